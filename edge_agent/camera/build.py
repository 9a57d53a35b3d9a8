"""Wire a :class:`~edge_agent.camera.service.CameraService` to the agent's callables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from alarmlink import wire
from edge_agent.camera.config import CameraConfig
from edge_agent.camera.service import CameraService
from edge_agent.snapshots import Publisher


class CameraSettings(Protocol):
    """The parts of the agent config the camera needs (``AgentConfig`` has them)."""

    @property
    def camera(self) -> CameraConfig | None: ...

    @property
    def device_id(self) -> str: ...

    @property
    def venue(self) -> str: ...

    @property
    def state_dir(self) -> Path: ...

    @property
    def topics(self) -> wire.Topics: ...


class EventRaiser(Protocol):
    """Commits an event to the agent's outbox (``Agent.raise_event``)."""

    def __call__(self, kind: wire.Kind, state: wire.State, zone: str, source: wire.Source,
                 *, detail: Mapping[str, wire.DetailValue]) -> object: ...


def build_camera(config: CameraSettings, *, link: Publisher,
                 event_pending: Callable[[str], bool],
                 raise_event: EventRaiser) -> CameraService | None:
    """The camera service for ``config.camera``, or None when no camera is configured.

    ``link`` publishes the snapshots, ``event_pending`` tells whether an event
    is still unconfirmed in the outbox, and ``raise_event`` commits the
    camera's own trouble and restore events. The caller feeds the service
    events (:meth:`CameraService.on_event`) and receipts.

    Raises :class:`~edge_agent.camera.sources.CameraUnavailable` when the
    configured camera type cannot work on this machine.
    """
    camera = config.camera
    if camera is None:
        return None
    zone = camera.zone

    def on_trouble(offline: bool, detail: dict[str, wire.DetailValue]) -> None:
        raise_event(wire.Kind.TROUBLE, wire.State.TROUBLE if offline else wire.State.RESTORE,
                    zone, wire.Source.CAMERA, detail=detail)

    return CameraService(camera, device_id=config.device_id, venue=config.venue,
                         state_dir=config.state_dir, link=link, topics=config.topics,
                         event_pending=event_pending, on_trouble=on_trouble)
