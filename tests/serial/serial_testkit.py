"""Helpers for the serial panel tests: configs, a recording ``raise_event``, cleanup."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.agent_testkit import make_config
from fixtures.agents import AgentSet

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from edge_agent.agent import Agent
from edge_agent.config import AgentConfig
from edge_agent.outbox import OutboxError
from edge_agent.serial.config import SerialInput
from edge_agent.serial.reader import SerialLink
from simulators.panel import PanelSimulator
from simulators.panel_ports import PanelPort, PtyPort

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "firmware_configs" / "scenarios"
DEVICE = "hotel-01"  # known to the test broker and to central's demo registry


def serial_input(port: str | Path, protocol: str = "gb26875", **extra: Any) -> dict[str, Any]:
    """A ``[[serials]]`` table with test timings (fast reconnect, 3 s loss trouble)."""
    data: dict[str, Any] = {"name": "fire-panel", "port": str(port), "protocol": protocol,
                            "loss_trouble_s": 3, "link_stable_s": 0.5,
                            "reconnect_min_s": 0.05, "reconnect_max_s": 0.2}
    data.update(extra)
    return data


def agent_config(tmp_path: Path, broker: MosquittoBroker, *serials: dict[str, Any],
                 device_id: str = DEVICE, **top: Any) -> AgentConfig:
    """A GPIO-less agent config for ``device_id`` (``hotel-01`` unless told) with the
    given serial inputs."""
    return make_config(tmp_path, device_id=device_id, url=broker.url, inputs=[],
                       serials=list(serials), **top)


@dataclass
class Raised:
    kind: str
    state: str
    zone: str
    detail: dict[str, wire.DetailValue]
    test: bool


class Recorder:
    """A stand-in for ``Agent.raise_event``: validates like the outbox, records, and can
    refuse the next ``fail`` commits with :class:`OutboxError`."""

    def __init__(self) -> None:
        self.events: list[Raised] = []
        self.fail = 0
        self.crash = 0  # raise a RuntimeError (a bug) on the next `crash` calls
        self._lock = threading.Lock()

    def __call__(self, kind: Any, state: Any, zone: str, source: Any = wire.Source.SELF,
                 detail: dict[str, wire.DetailValue] | None = None, test: bool = False,
                 ts: Any = None) -> wire.Event:
        with self._lock:
            if self.fail:
                self.fail -= 1
                raise OutboxError("disk full (test)")
            if self.crash:
                self.crash -= 1
                raise RuntimeError("a bug (test)")
            event = wire.Event(event_id=wire.new_id(), device_id=DEVICE,
                               seq=len(self.events) + 1, ts=ts or wire.utcnow(), kind=kind,
                               state=state, zone=zone, source=source, test=test,
                               detail=dict(detail or {}))
            assert event.source == wire.Source.SERIAL
            self.events.append(Raised(event.kind.value, event.state.value, event.zone,
                                      event.detail, event.test))
            return event

    def where(self, **match: Any) -> list[Raised]:
        with self._lock:
            return [e for e in self.events
                    if all(getattr(e, k) == v for k, v in match.items())]

    def triples(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [(e.kind, e.state, e.zone) for e in self.events]


@dataclass
class Made:
    agents: AgentSet = field(default_factory=AgentSet)
    links: list[SerialLink] = field(default_factory=list)
    panels: list[PanelSimulator] = field(default_factory=list)

    def agent(self, config: AgentConfig) -> Agent:
        return self.agents.new(config)

    def link(self, port: str | Path, recorder: Recorder, protocol: str = "gb26875",
             **extra: Any) -> SerialLink:
        link = SerialLink(SerialInput(**serial_input(port, protocol, **extra)), recorder)
        self.links.append(link)
        link.start()
        return link

    def panel(self, protocol: str, port: PanelPort | None = None, *, link: Path | None = None,
              **options: Any) -> PanelSimulator:
        options.setdefault("out", None)
        options.setdefault("answer_timeout_s", 2.0)
        panel = PanelSimulator(protocol, port or PtyPort(link), **options)
        self.panels.append(panel)
        return panel.start()

    def close(self) -> None:
        self.agents.stop_all(timeout=2)
        for link in self.links:
            link.stop(timeout=2)
        for panel in self.panels:
            panel.stop()
