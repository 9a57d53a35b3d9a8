"""Helpers for the camera tests: agent configs with a camera, central's snapshot rows."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

from e2e.harness import button_only
from fixtures.central import CentralProcess
from helpers import wait_for

from alarmlink.broker import MosquittoBroker
from edge_agent.camera.service import CameraService
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


class SkipClock:
    """Monotonic seconds for a camera service: the real clock plus the simulated time
    skipped so far. It never goes backwards; :meth:`skip` moves it on at once."""

    def __init__(self) -> None:
        self.skipped = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, seconds: float) -> None:
        with self._lock:
            self.skipped += max(seconds, 0.0)


class FastForwardCamera:
    """Wraps a camera so its frames carry ``mono`` on ``clock``. After
    :meth:`fast_forward`, each capture first skips ``step`` seconds of the clock, as
    if the capture itself had taken that long, until the clock reaches ``until``;
    the next capture then holds (``holding``) until :meth:`release`, so a test can look
    at the service exactly at that moment. With ``step`` at the camera's capture
    interval the service's capture loop never waits: simulated time runs as fast as
    the frames can be made, at the rate the service asks for them."""

    def __init__(self, inner: Camera, clock: SkipClock) -> None:
        self.inner = inner
        self.clock = clock
        self.name = inner.name
        self.description = f"fast-forward {inner.description}"
        self.until: float | None = None
        self.step = 0.0
        self.fast_frames = 0
        self._holding = threading.Event()
        self._released = threading.Event()
        self._released.set()

    def fast_forward(self, until: float, step: float) -> None:
        self.step = step
        self._released.clear()
        self.until = until

    @property
    def holding(self) -> bool:
        return self._holding.is_set()

    def release(self) -> None:
        self.until = None
        self._released.set()

    def open(self) -> None:
        self.inner.open()

    def capture(self) -> Frame:
        until = self.until
        if until is not None:
            if self.clock() >= until:
                self._holding.set()  # every earlier frame has been handed over
                self._released.wait(60)
                self._holding.clear()
            else:
                self.clock.skip(min(self.step, until - self.clock()))
                self.fast_frames += 1
        frame = self.inner.capture()
        return dataclasses.replace(frame, mono=self.clock())

    def close(self) -> None:
        self.inner.close()


class DispatchPasses:
    """Counts the camera service's completed dispatch passes (it calls its public
    ``dispatch`` from its dispatch thread), to know when frames already handed over by
    the capture thread have been filed into the snapshot outbox."""

    def __init__(self, camera: CameraService) -> None:
        self.count = 0
        self._inner = camera.dispatch
        camera.dispatch = self  # type: ignore[method-assign]

    def __call__(self, now: float) -> None:
        self._inner(now)
        self.count += 1

    def settle(self) -> None:
        """Wait for two passes: the second began after every frame handed over so far."""
        start = self.count
        wait_for(lambda: self.count >= start + 2, what="two camera dispatch passes")
