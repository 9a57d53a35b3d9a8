"""Issue 4, line 3: during a broker outage alarm events survive, snapshots stay within
their outbox budget with the oldest routine frames dropped first (never alarm events,
never evidence while routine frames are left), and everything left is delivered after
reconnect.

The first test's outage lasts a few seconds with the budget scaled down to 16 frames:
what is under test is the budget overflowing during an outage, and a running live view
plus two alarm bursts (7 frames each) overflow 16 frames in about 3 s, as a longer
outage overflows the defaults (1000 frames / 64 MiB). The second is the issue's literal
60 s, simulated: the camera service runs on an injected clock that is fast-forwarded
through the minute a frame at a time, 0.5 s per frame (its capture interval outside
alarm bursts, which the live view at 1 fps samples as in real time), while the broker,
central and the rest of the agent run in real time (for them time alone changes
nothing: the agent neither times out nor discards anything).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from camera_testkit import (
    DispatchPasses,
    FastForwardCamera,
    SkipClock,
    camera_venue,
    open_incident,
)
from fixtures.central import CentralProcess
from helpers import wait_for

from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator

BUDGET = 16


@contextmanager
def alarm_then_outage(mosquitto: MosquittoBroker, central: CentralProcess, tmp_path: Path,
                      live_s: int, fps: float, clock: SkipClock | None = None
                      ) -> Iterator[tuple[VenueSimulator, Any, Any, dict[str, Any]]]:
    """A camera venue raises an alarm, the officer starts a live view, the broker goes
    down. Yields (simulator, its config, the first alarm event, the incident). With
    ``clock``, the camera service (and its sender) run on it, behind a
    :class:`FastForwardCamera`."""
    config = camera_venue(mosquitto, tmp_path / "agent", outbox_max_frames=BUDGET,
                          buffer_s=2, buffer_fps=2, post_frames=2, post_fps=4)
    config = config.with_overrides({"broker.reconnect_max_s": 1})
    sim = VenueSimulator(config, out=None)
    if clock is not None:
        service = sim.agent.camera
        assert service is not None
        service.clock = service.sender.clock = clock  # before start: nothing read it yet
        service.source = FastForwardCamera(service.source, clock)
    with sim:
        camera = sim.agent.camera
        assert camera is not None
        wait_for(lambda: sim.agent.connected, what="agent connected")
        wait_for(lambda: camera.frames_captured >= 2, what="pre-alarm frames")
        first = sim.press("gate-button")
        incident = wait_for(lambda: open_incident(central), what="incident at central")
        # The officer watches live (routine frames) when the link goes down.
        central.api("POST", f"/api/incidents/{incident['id']}/snapshots/live",
                    {"live_s": live_s, "fps": fps})
        wait_for(lambda: central.rows("SELECT 1 FROM snapshots WHERE phase = 'live'"),
                 what="live frames arriving")
        mosquitto.stop()
        wait_for(lambda: not sim.agent.connected, what="agent sees the outage")
        yield sim, config, first, incident


def test_outage_keeps_events_drops_routine_frames_first_and_delivers_the_rest(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, tmp_path: Path) -> None:
    # 6 s of live view at 2 fps: enough routine frames left after the outage starts to
    # overflow the 16-frame budget with the two bursts, however late the outage begins
    with alarm_then_outage(fresh_mosquitto, central_process, tmp_path, 6, 2) as (
            sim, config, first, _inc):
        camera = sim.agent.camera
        assert camera is not None

        second = sim.press("gate-button")
        third = sim.press("gate-button")
        wait_for(lambda: camera.idle, timeout=15,
                 what="live view over, both bursts captured")
        stats = camera.outbox.stats()
        assert stats["frames"] <= BUDGET and stats["bytes"] <= config.camera.outbox_max_bytes
        assert stats["dropped_routine"] > 0, "the outage should overflow the budget"
        assert stats["dropped_evidence"] == 0
        drops = list(camera.outbox.recent_drops)
        assert drops and all(not evidence for evidence, _seq, _event in drops)
        left = camera.outbox.queued(limit=100)
        routine_left = [f.seq for f in left if not f.evidence]
        if routine_left:  # oldest routine first: every survivor is newer than every drop
            assert max(seq for _e, seq, _ev in drops) < min(routine_left)
        for event in (second, third):  # alarm events untouched, still in the event outbox
            assert sim.agent.outbox.contains(event.event_id)
            assert {f.phase for f in left if f.event_id == event.event_id} >= {
                "pre", "alarm", "post"}

        fresh_mosquitto.start()
        wait_for(lambda: sim.agent.outbox.depth() == 0, timeout=20,
                 what="both alarm events stored after reconnect")
        wait_for(lambda: camera.outbox.stats()["frames"] == 0, timeout=20,
                 what="snapshot outbox drained")
    stored_events = {r["event_id"] for r in central_process.rows("SELECT event_id FROM events")}
    assert {first.event_id, second.event_id, third.event_id} <= stored_events
    at_central = {(r["event_id"], r["seq"]) for r in central_process.rows(
        "SELECT event_id, seq FROM snapshots")}
    missing = {(f.event_id, f.seq) for f in left} - at_central
    assert not missing, f"frames left at the outage's end but never stored: {missing}"
    dead = central_process.rows("SELECT reason FROM dead_letters")
    assert not dead, [d["reason"] for d in dead]


OUTAGE_S = 60.0


def test_sixty_second_outage_with_live_view_running(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, tmp_path: Path) -> None:
    """The issue's literal case: the broker is down for 60 s while a live view keeps
    producing routine frames at 1 fps; the budget holds, alarms survive, the rest arrives.
    The 60 s pass on the camera service's clock (see the module docstring)."""
    clock = SkipClock()
    with alarm_then_outage(fresh_mosquitto, central_process, tmp_path, 110, 1, clock) as (
            sim, config, first, incident):
        down_at = clock()
        camera = sim.agent.camera
        assert camera is not None
        source = camera.source
        assert isinstance(source, FastForwardCamera)
        passes = DispatchPasses(camera)
        during = [sim.press("gate-button") for _ in range(2)]
        # the outage itself: its length is the scenario, run through on the camera's clock
        # at its capture interval (0.5 s at buffer_fps 2; a live view at 1 fps uses every
        # second frame, as it does in real time)
        source.fast_forward(until=down_at + OUTAGE_S, step=1 / config.camera.buffer_fps)
        wait_for(lambda: source.holding, timeout=60, what="the simulated 60 s outage")
        try:
            passes.settle()  # every frame of the minute filed into the snapshot outbox
            assert clock() - down_at >= OUTAGE_S and source.fast_frames >= OUTAGE_S
            stats = camera.outbox.stats()
            assert stats["frames"] <= BUDGET
            assert stats["bytes"] <= config.camera.outbox_max_bytes
            assert stats["dropped_routine"] >= 30, stats  # ~60 live frames into 16 slots
            assert stats["dropped_evidence"] == 0
            left = camera.outbox.queued(limit=100)
            for event in during:
                assert sim.agent.outbox.contains(event.event_id)
                assert {f.phase for f in left if f.event_id == event.event_id} >= {
                    "pre", "alarm", "post"}
        finally:
            source.release()  # the camera goes on in real time

        fresh_mosquitto.start()
        wait_for(lambda: sim.agent.outbox.depth() == 0, timeout=30,
                 what="alarm events stored after reconnect")
        central_process.api("POST", f"/api/incidents/{incident['id']}/snapshots/stop",
                            {})
        wait_for(lambda: camera.idle, timeout=30, what="live view stopped")
        wait_for(lambda: camera.outbox.stats()["frames"] == 0, timeout=30,
                 what="snapshot outbox drained")
    stored = {r["event_id"] for r in central_process.rows("SELECT event_id FROM events")}
    assert {first.event_id, *(e.event_id for e in during)} <= stored
    # the live view kept filling the budget until the link was back, so routine frames
    # left at the 60 s mark may have been displaced since; evidence never is
    dropped = {(ev, seq) for evidence, seq, ev in camera.outbox.recent_drops if not evidence}

    def missing_at_central() -> set[tuple[str, int]]:
        at_central = {(r["event_id"], r["seq"]) for r in central_process.rows(
            "SELECT event_id, seq FROM snapshots")}
        return {(f.event_id, f.seq) for f in left} - at_central

    # the agent forgets a frame at the broker's PUBACK: central may still be storing the
    # last of them when the outbox is empty
    wait_for(lambda: not missing_at_central() - dropped, timeout=30,
             what="every frame left at the 60 s mark stored at central or dropped")
    missing = missing_at_central()
    assert not missing - dropped, f"frames never stored nor dropped: {missing - dropped}"
    assert all(f.evidence is False for f in left if (f.event_id, f.seq) in missing)
