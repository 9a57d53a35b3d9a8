"""Helpers for the camera tests: agent configs with a camera, central's snapshot rows."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from e2e.harness import CentralProcess, button_only

from alarmlink.broker import MosquittoBroker
from edge_agent.camera.sources import Camera, Frame
from edge_agent.config import AgentConfig

#: Quick settings so a test sees every phase in about a second.
FAST = {"type": "test-pattern", "width": 640, "height": 360, "buffer_s": 2, "buffer_fps": 2,
        "post_frames": 2, "post_fps": 4}


def camera_venue(broker: MosquittoBroker, state_dir: Path, **camera: Any) -> AgentConfig:
    """The school's one-key button plus a camera (``FAST`` unless overridden)."""
    return button_only("school", broker, state_dir, camera={**FAST, **camera})


def incident_frames(central: CentralProcess, incident_id: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = central.api(
        "GET", f"/api/incidents/{incident_id}/snapshots")["snapshots"]
    return frames


def phases(frames: list[dict[str, Any]]) -> list[str]:
    return [f["phase"] for f in frames]


def open_incident(central: CentralProcess) -> dict[str, Any] | None:
    incidents = central.api("GET", "/api/incidents?category=alarm")
    return incidents[0] if incidents else None


class GatedCamera:
    """Wraps a camera: ``block()`` makes the next capture hang until ``release()``;
    ``fail()`` makes captures raise until ``heal()``. Counts captures it finished."""

    def __init__(self, inner: Camera) -> None:
        self.inner = inner
        self.name = inner.name
        self.description = f"gated {inner.description}"
        self._open = threading.Event()
        self._open.set()
        self.failing = False
        self.blocked_calls = 0

    @property
    def hung(self) -> bool:
        return not self._open.is_set()

    def block(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def fail(self) -> None:
        self.failing = True

    def heal(self) -> None:
        self.failing = False

    def open(self) -> None:
        self.inner.open()

    def capture(self) -> Frame:
        if not self._open.is_set():
            self.blocked_calls += 1
            self._open.wait(60)  # a hung driver call, until the test releases it
        if self.failing:
            raise OSError("VIDIOC_DQBUF: No such device (simulated unplugged camera)")
        return self.inner.capture()

    def close(self) -> None:
        self.inner.close()
