"""Helpers for central's tests: event factory, recording publisher, demo registry."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fixtures.auth import Session

from alarmlink.wire import Event, Receipt, Topics, decode, encode, new_id, utcnow
from central.service import CentralService

#: TestClient's base URL: a Host central allows by default ([http] allowed_hosts); the
#: TestClient default, "testserver", is refused with 400 like any unknown host.
TEST_BASE_URL = "http://127.0.0.1"
DEMO_REGISTRY = Path(__file__).resolve().parents[2] / "central" / "demo_registry.toml"
TOPICS = Topics()
_seq = itertools.count(1)


def make_event(device_id: str = "school-01", *, kind: str = "panic", state: str = "alarm",
               zone: str = "gate-button", test: bool = False, seq: int | None = None,
               ts: datetime | None = None, event_id: str | None = None) -> Event:
    return Event(event_id=event_id or new_id(), device_id=device_id,
                 seq=next(_seq) if seq is None else seq, ts=ts or utcnow(), kind=kind,
                 state=state, zone=zone, source="gpio", test=test)


def event_message(event: Event, device_id: str | None = None) -> tuple[str, bytes]:
    """(topic, payload) as the device would publish it."""
    return TOPICS.event(device_id or event.device_id), encode(event)


class Recorder:
    """A thread-safe stand-in for MQTT publish that keeps what was published."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.messages.append((topic, payload))

    def receipts(self, device_id: str | None = None) -> list[Receipt]:
        with self._lock:
            messages = list(self.messages)
        return [decode(Receipt, payload) for topic, payload in messages
                if topic.endswith("/receipt")
                and (device_id is None or topic == TOPICS.receipt(device_id))]

    def stages(self, event_id: str) -> list[str]:
        return [r.stage.value for r in self.receipts() if r.event_id == event_id]


@dataclass
class LiveServer:
    """A real uvicorn serving central (publisher = recorder, no MQTT) on a loopback port."""

    url: str
    app: FastAPI
    recorder: Recorder
    #: the admin ``officer-li``, logged in
    session: Session

    @property
    def headers(self) -> dict[str, str]:
        """Session cookie and X-CSRF-Token of :attr:`session`."""
        return self.session.headers

    @property
    def service(self) -> CentralService:
        service: CentralService = self.app.state.central
        return service

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"
