"""The agent's camera service: capture, pre-alarm ring buffer, bursts, live view, supervision.

Three threads, none of them the agent's main loop, so a slow or hung camera
never delays an alarm event:

- *capture* calls the camera at the rate currently needed (the ring buffer's
  ``buffer_fps``, faster during a post-alarm burst or a live view, at once for
  an alarm or snapshot-now) and hands frames over;
- *dispatch* keeps the ring buffer, files frames into the snapshot outbox with
  their phase, and supervises the camera;
- the :class:`~edge_agent.snapshots.SnapshotSender` publishes them.

On an alarm event (any event with state ``alarm`` not raised by the camera
itself) the ring buffer's frames taken before it go out as ``pre``, the first
frame captured after it as ``alarm``, then ``post_frames`` frames at
``post_fps`` as ``post``; all on ``snapshot/{event_id}``. The agent's event
listener only queues the request: the event itself is never held back.

Central's ``snapshot`` command (:class:`~alarmlink.wire.SnapshotRequest`)
asks for one frame ``now``, a ``live`` view (clamped to ``live_max_s`` and
``live_max_fps``) or ``stop``. A live view also stops at its end, or when a
``resolved`` receipt for its event or incident arrives.

Supervision: no frame for ``offline_after_s`` (a capture that hangs, or keeps
failing) raises a ``trouble`` event in zone ``"<name> camera"`` with detail
``reason = "camera offline"``; the next good frame raises the ``restore``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alarmlink import wire
from edge_agent.camera.config import META_ROOM_BYTES, CameraConfig
from edge_agent.camera.jpeg import fit_jpeg
from edge_agent.camera.sources import Camera, CameraError, Frame, open_camera
from edge_agent.camera.watch import CameraWatch
from edge_agent.snapshots import SnapshotOutbox, SnapshotOutboxError, SnapshotSender

logger = logging.getLogger(__name__)

#: on_trouble(offline, detail): raise the camera's trouble (True) or restore (False) event.
TroubleReporter = Callable[[bool, dict[str, wire.DetailValue]], None]
_NOT_EVIDENCE = (wire.Kind.TROUBLE, wire.Kind.POWER, wire.Kind.TEST)
#: How long an alarm burst / a snapshot-now waits for a camera that is not answering.
BURST_WAIT_S = 120.0
NOW_WAIT_S = 30.0


@dataclass
class _Burst:
    event_id: str
    evidence: bool
    trigger: float
    deadline: float
    posts_left: int
    alarm_done: bool = False
    next_post: float = 0.0


@dataclass
class _Live:
    event_id: str
    incident_id: int | None
    start: float
    until: float
    interval: float
    next: float


class CameraService:
    """One device's camera. :meth:`start`, :meth:`stop`; hooks for the agent below."""

    def __init__(self, config: CameraConfig, *, device_id: str, venue: str, state_dir: Path,
                 link: Any, topics: wire.Topics, event_pending: Callable[[str], bool],
                 on_trouble: TroubleReporter,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.device_id = device_id
        #: Monotonic seconds for capture timing, bursts, live views and supervision; the
        #: camera's ``Frame.mono`` must be on the same clock (the sources use time.monotonic).
        self.clock = clock
        self.source: Camera = open_camera(config, venue)  # CameraUnavailable: install problem
        self.outbox = SnapshotOutbox(state_dir / f"snapshots-{device_id}.sqlite3",
                                     max_bytes=config.outbox_max_bytes,
                                     max_frames=config.outbox_max_frames)
        self.sender = SnapshotSender(self.outbox, link, topics, device_id, event_pending,
                                     clock=clock)
        self.on_trouble = on_trouble
        self.watch = CameraWatch(config.name, config.offline_after_s, self.clock())
        self.frames_captured = 0
        self._ring: deque[Frame] = deque(maxlen=max(config.buffer_frames, 1))
        self._bursts: list[_Burst] = []
        self._live: dict[str, _Live] = {}
        self._nows: list[tuple[str, float, float]] = []  # (event_id, requested, deadline)
        self._requests: deque[tuple[str, float, Any]] = deque()
        self._frames: queue.SimpleQueue[Frame] = queue.SimpleQueue()
        self._interval = self._base_interval()
        self._last_now = float("-inf")
        self._capture_wake = threading.Event()
        self._dispatch_wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def offline(self) -> bool:
        """A camera-offline trouble is reported and not yet restored."""
        return self.watch.offline

    @property
    def last_error(self) -> str | None:
        return self.watch.last_error

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self.watch.last_ok = self.clock()
        self._threads = [
            threading.Thread(target=self._capture_loop, daemon=True,
                             name=f"camera-{self.device_id}"),
            threading.Thread(target=self._dispatch_loop, daemon=True,
                             name=f"camera-dispatch-{self.device_id}"),
        ]
        for thread in self._threads:
            thread.start()
        self.sender.start()
        logger.info("%s: camera %s started (%s, pre-alarm buffer %d frame(s) at %g fps)",
                    self.device_id, self.config.name, self.source.description,
                    self.config.buffer_frames, self.config.buffer_fps)

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._capture_wake.set()
        self._dispatch_wake.set()
        hung = False
        for thread in self._threads:
            thread.join(timeout)
            hung = hung or thread.is_alive()
        self._threads = []
        self.sender.stop(timeout)
        if hung:
            logger.warning("%s: camera thread did not stop (capture hung); not closing it",
                           self.device_id)
        else:
            self.source.close()
        self.outbox.close()

    # --- hooks the agent calls -------------------------------------------------------

    def on_event(self, event: wire.Event) -> None:
        """Event listener: queue a burst for an alarm. Never blocks (main loop thread)."""
        if event.state != wire.State.ALARM or event.source == wire.Source.CAMERA:
            return
        evidence = not event.test and event.kind not in _NOT_EVIDENCE
        self._request("alarm", (event.event_id, evidence))
        self._capture_wake.set()

    def on_receipt(self, receipt: wire.Receipt) -> None:
        """A receipt may free frames to send; ``resolved`` ends a live view."""
        if receipt.stage == wire.Stage.RESOLVED:
            self._request("resolved", (receipt.event_id, receipt.incident_id))
        self.sender.wake()

    def command(self, args: dict[str, wire.DetailValue]) -> tuple[bool, dict[str, Any]]:
        """Run a ``snapshot`` command; ``(ok, detail)`` for the CommandResult."""
        try:
            req = wire.SnapshotRequest.from_args(args)
        except wire.ContractError as exc:
            return False, {"reason": str(exc)}
        detail: dict[str, Any] = {"camera": self.config.name, "action": req.action,
                                  "camera_online": not self.offline}
        if req.action == "stop":
            self._request("stop", (req.event_id, req.incident_id))
            return True, detail
        if req.action == "now":
            now = self.clock()
            if now - self._last_now < 1.0 / self.config.live_max_fps:
                return False, {**detail, "reason": "rate limited: at most "
                               f"{self.config.live_max_fps:g} snapshot(s) a second"}
            self._last_now = now
            self._request("now", req.event_id)
            self._capture_wake.set()
            return True, detail
        live_s = min(req.live_s, self.config.live_max_s)
        fps = min(req.fps, self.config.live_max_fps)
        self._request("live", (req.event_id, req.incident_id, live_s, fps))
        return True, {**detail, "live_s": live_s, "fps": fps}

    def status(self) -> dict[str, wire.DetailValue]:
        stats = self.outbox.stats()
        return {"camera": f"{self.config.name}: {self.source.description}",
                "camera_online": not self.offline,
                "camera_error": (self.last_error or "")[:200],
                "snapshot_queue": stats["frames"], "snapshot_queue_bytes": stats["bytes"],
                "snapshots_dropped": stats["dropped_routine"] + stats["dropped_evidence"],
                "live_views": len(self._live)}

    @property
    def idle(self) -> bool:
        """No live view, alarm burst or snapshot-now waiting for frames."""
        return not (self._live or self._bursts or self._nows or self._requests)

    def _request(self, kind: str, payload: Any) -> None:
        self._requests.append((kind, self.clock(), payload))
        self._dispatch_wake.set()

    # --- capture thread --------------------------------------------------------------

    def _capture_loop(self) -> None:
        opened = False
        failures = 0
        next_at = self.clock()
        while not self._stop.is_set():
            now = self.clock()
            if self._capture_wake.is_set() or now >= next_at:
                self._capture_wake.clear()
                self.watch.capture_started = now
                try:
                    if not opened:
                        self.source.open()
                        opened = True
                    frame = self.source.capture()
                except Exception as exc:  # drivers raise anything; never kill this thread
                    failures += 1
                    self.watch.last_error = f"{type(exc).__name__}: {exc}"
                    if failures & (failures - 1) == 0:
                        logger.warning("%s: camera %s failed (%d in a row): %s",
                                       self.device_id, self.config.name, failures,
                                       self.watch.last_error)
                    if opened and failures % 5 == 0:  # try a fresh open
                        opened = False
                        self._close_quietly()
                    next_at = self.clock() + min(self._interval, 1.0)
                    continue
                finally:
                    self.watch.capture_started = None
                failures = 0
                self.frames_captured += 1
                self.watch.last_ok = self.clock()
                self._frames.put(frame)
                self._dispatch_wake.set()
                next_at = now + self._interval
            self._capture_wake.wait(max(0.0, min(next_at - self.clock(), 0.5)))

    def _close_quietly(self) -> None:
        try:
            self.source.close()
        except (CameraError, RuntimeError, OSError) as exc:
            logger.debug("closing camera after failures: %s", exc)

    # --- dispatch thread -------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            self._dispatch_wake.wait(0.2)
            self._dispatch_wake.clear()
            try:
                self.dispatch(self.clock())
            except (SnapshotOutboxError, CameraError, ValueError):
                logger.exception("%s: camera dispatch failed", self.device_id)

    def dispatch(self, now: float) -> None:
        """Handle requests and new frames in time order, expire, supervise."""
        items: list[tuple[float, int, Any]] = []
        while self._requests:
            kind, at, payload = self._requests.popleft()
            items.append((at, 0, (kind, payload)))
        while True:
            try:
                frame = self._frames.get_nowait()
            except queue.Empty:
                break
            items.append((frame.mono, 1, frame))
        items.sort(key=lambda item: (item[0], item[1]))
        for at, is_frame, item in items:
            if is_frame:
                self._assign(item)
            else:
                self._handle(at, *item)
        self._expire(now)
        self._supervise(now)
        self._interval = self._demand_interval()

    def _handle(self, at: float, kind: str, payload: Any) -> None:
        cfg = self.config
        if kind == "alarm":
            event_id, evidence = payload
            pre = [f for f in self._ring if f.mono < at] if cfg.buffer_frames else []
            for frame in pre:
                self._store(frame, event_id, wire.SnapshotPhase.PRE, evidence)
            # A camera that is offline now may come back: its late pictures still help.
            deadline = at + max(BURST_WAIT_S, 2 * cfg.offline_after_s) + \
                cfg.post_frames / cfg.post_fps
            self._bursts.append(_Burst(event_id, evidence, at, deadline, cfg.post_frames))
            logger.info("%s: alarm %s: %d pre-alarm frame(s) queued", self.device_id,
                        event_id, len(pre))
        elif kind == "now":
            self._nows.append((payload, at, at + max(NOW_WAIT_S, cfg.offline_after_s)))
        elif kind == "live":
            event_id, incident_id, live_s, fps = payload
            self._live[event_id] = _Live(event_id, incident_id, at, at + live_s, 1.0 / fps, at)
            logger.info("%s: live view for %s: %d s at %g fps", self.device_id, event_id,
                        live_s, fps)
        elif kind in ("stop", "resolved"):
            event_id, incident_id = payload
            for key, live in list(self._live.items()):
                if key == event_id or (incident_id is not None
                                       and live.incident_id == incident_id):
                    del self._live[key]
                    logger.info("%s: live view for %s stopped (%s)", self.device_id, key, kind)

    def _assign(self, frame: Frame) -> None:
        cfg = self.config
        if cfg.buffer_frames and (not self._ring or frame.mono - self._ring[-1].mono
                                  >= 0.9 / cfg.buffer_fps):
            self._ring.append(frame)
        for burst in list(self._bursts):
            if not burst.alarm_done:
                if frame.mono >= burst.trigger:
                    self._store(frame, burst.event_id, wire.SnapshotPhase.ALARM, burst.evidence)
                    burst.alarm_done = True
                    burst.next_post = frame.mono + 1.0 / cfg.post_fps
            elif burst.posts_left > 0 and frame.mono >= burst.next_post - 0.1 / cfg.post_fps:
                self._store(frame, burst.event_id, wire.SnapshotPhase.POST, burst.evidence)
                burst.posts_left -= 1
                burst.next_post += 1.0 / cfg.post_fps
            if burst.alarm_done and burst.posts_left == 0:
                self._bursts.remove(burst)
        for live in self._live.values():
            if live.start <= frame.mono < live.until and \
                    frame.mono >= live.next - 0.1 * live.interval:
                self._store(frame, live.event_id, wire.SnapshotPhase.LIVE, False)
                # The grid (next + interval) bounds the average rate; the second term
                # keeps frames >= 0.8 interval apart after the camera fell behind.
                live.next = max(live.next + live.interval, frame.mono + 0.9 * live.interval)
        for entry in list(self._nows):
            if frame.mono >= entry[1]:
                self._store(frame, entry[0], wire.SnapshotPhase.LIVE, False)
                self._nows.remove(entry)

    def _store(self, frame: Frame, event_id: str, phase: wire.SnapshotPhase,
               evidence: bool) -> None:
        try:
            fitted = fit_jpeg(frame, self.config.max_bytes - META_ROOM_BYTES)
            self.outbox.add(event_id=event_id, phase=phase, evidence=evidence,
                            jpeg=fitted.jpeg, ts=fitted.ts, camera=self.config.name,
                            width=fitted.width, height=fitted.height)
        except (CameraError, SnapshotOutboxError, wire.ContractError) as exc:
            logger.error("%s: %s frame for %s not queued: %s", self.device_id, phase.value,
                         event_id, exc)
            return
        self.sender.wake()

    def _expire(self, now: float) -> None:
        for key, live in list(self._live.items()):
            if now >= live.until:
                del self._live[key]
                logger.info("%s: live view for %s ended", self.device_id, key)
        self._bursts = [b for b in self._bursts if now < b.deadline]
        self._nows = [n for n in self._nows if now < n[2]]

    def _base_interval(self) -> float:
        rates = [2.0 / self.config.offline_after_s]  # supervision: a frame every half window
        if self.config.buffer_frames:
            rates.append(self.config.buffer_fps)
        return 1.0 / max(rates)

    def _demand_interval(self) -> float:
        interval = self._base_interval()
        if self._bursts:
            interval = min(interval, 1.0 / self.config.post_fps)
        for live in self._live.values():
            interval = min(interval, live.interval)
        return interval

    def _supervise(self, now: float) -> None:
        verdict = self.watch.verdict(now)
        if verdict is not None and self._report(*verdict):
            self.watch.reported(verdict[0], now)

    def _report(self, offline: bool, detail: dict[str, wire.DetailValue]) -> bool:
        log = logger.error if offline else logger.info
        log("%s: camera %s: %s", self.device_id, self.config.name, detail)
        try:
            self.on_trouble(offline, detail)
        except Exception:  # e.g. the outbox refused it: retried on the next pass
            logger.exception("%s: could not raise the camera %s event", self.device_id,
                             "trouble" if offline else "restore")
            return False
        return True

