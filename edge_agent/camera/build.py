"""Wire a :class:`~edge_agent.camera.service.CameraService` into an agent."""

from __future__ import annotations

from typing import Any

from alarmlink import wire
from edge_agent.camera.service import CameraService


def build_camera(agent: Any) -> CameraService | None:
    """The camera service of an :class:`~edge_agent.agent.Agent`, wired to it, or None.

    Raises :class:`~edge_agent.camera.sources.CameraUnavailable` when the
    configured camera type cannot work on this machine.
    """
    config = agent.config
    if config.camera is None:
        return None
    zone = config.camera.zone

    def on_trouble(offline: bool, detail: dict[str, wire.DetailValue]) -> None:
        agent.raise_event(wire.Kind.TROUBLE, wire.State.TROUBLE if offline
                          else wire.State.RESTORE, zone, wire.Source.CAMERA, detail=detail)

    service = CameraService(config.camera, device_id=config.device_id, venue=config.venue,
                            state_dir=config.state_dir, link=agent.link, topics=config.topics,
                            event_pending=agent.outbox.contains, on_trouble=on_trouble)
    agent.event_listeners.append(service.on_event)
    return service
