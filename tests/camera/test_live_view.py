"""Issue 4, line 5: live view starts on request, stops at the end of its duration or
when the incident is resolved, and respects its rate limit; "snapshot now" too."""

from __future__ import annotations

import json
import urllib.error
from datetime import datetime
from pathlib import Path

import pytest
from camera_testkit import camera_venue, incident_frames, open_incident
from fixtures.central import CentralProcess
from fixtures.mqtt import CentralStub
from helpers import wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator

OFFICER = {}


def live_frames(central: CentralProcess, incident_id: int) -> list[dict[str, object]]:
    return [f for f in incident_frames(central, incident_id) if f["phase"] == "live"]


def post_error(central: CentralProcess, path: str, body: dict[str, object]) -> int:
    with pytest.raises(urllib.error.HTTPError) as info:
        central.api("POST", path, body)
    return info.value.code


def test_live_view_runs_at_its_rate_for_its_duration_then_stops_on_resolve(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, tmp_path: Path) -> None:
    # The camera runs at 5 fps for its ring buffer: the live view must pick 2 of them a second.
    config = camera_venue(fresh_mosquitto, tmp_path / "agent", live_max_fps=2, buffer_s=1,
                          buffer_fps=5)
    with VenueSimulator(config, out=None) as sim:
        camera = sim.agent.camera
        assert camera is not None
        wait_for(lambda: sim.agent.connected, what="agent connected")
        sim.press("gate-button")
        incident = wait_for(lambda: open_incident(central_process), what="incident")
        path = f"/api/incidents/{incident['id']}/snapshots"
        wait_for(lambda: camera.idle, what="the alarm burst done")

        # 1. Asked for 10 fps for 2 s: granted the rate limit, 2 fps, and it ends by itself.
        granted = central_process.api("POST", f"{path}/live", {**OFFICER, "live_s": 2, "fps": 10})
        assert granted["fps"] == 2 and granted["live_s"] == 2 and granted["live_until"]
        (answer,) = wait_for(lambda: central_process.rows("SELECT ok, detail FROM command_results"),
                             what="the device's answer")
        assert answer["ok"] and json.loads(answer["detail"])["fps"] == 2
        wait_for(lambda: live_frames(central_process, incident["id"]), what="live frames")
        wait_for(lambda: camera.idle, timeout=10, what="the live view ending by itself")
        wait_for(lambda: camera.outbox.stats()["frames"] == 0, what="all frames delivered")
        frames = live_frames(central_process, incident["id"])
        times = [datetime.fromisoformat(str(f["ts"]).replace("Z", "+00:00")) for f in frames]
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert 2 <= len(frames) <= 2 * 2 + 1, f"{len(frames)} frames in a 2 s view at 2 fps"
        # the limiter keeps live frames at least 0.8 / fps apart (0.1 / fps of jitter allowed)
        assert all(gap >= 0.8 / 2 - 0.005 for gap in gaps), f"faster than 2 fps: {gaps}"
        assert central_process.api("GET", path)["live_until"] is None

        # 2. Snapshot now: one frame; asking again at once is refused by the rate limit.
        before = len(frames)
        central_process.api("POST", f"{path}/now", OFFICER)
        assert post_error(central_process, f"{path}/now", OFFICER) == 429
        wait_for(lambda: len(live_frames(central_process, incident["id"])) == before + 1,
                 what="the snapshot-now frame")

        # 3. A long live view ends when the incident is resolved.
        central_process.api("POST", f"{path}/live", {**OFFICER, "live_s": 120, "fps": 2})
        wait_for(lambda: not camera.idle, what="live view running")
        count = len(live_frames(central_process, incident["id"]))
        wait_for(lambda: len(live_frames(central_process, incident["id"])) >= count + 2,
                 what="live frames flowing")
        central_process.api("POST", f"/api/incidents/{incident['id']}/resolve",
                            {**OFFICER, "outcome": "false_alarm"})
        wait_for(lambda: camera.idle, what="live view stopped by the resolve")
        seq_at_stop = camera.outbox.stats()["next_seq"]
        captured = camera.frames_captured
        wait_for(lambda: camera.frames_captured >= captured + 3, what="camera still running")
        assert camera.outbox.stats()["next_seq"] == seq_at_stop, "frames after the stop"
        assert post_error(central_process, f"{path}/live", {**OFFICER, "live_s": 5}) == 409
    log = central_process.api("GET", f"/api/incidents/{incident['id']}")["log"]
    assert [e["action"] for e in log if e["action"].startswith("snapshot_")] == [
        "snapshot_live", "snapshot_now", "snapshot_live", "snapshot_stop"]


def test_resolved_receipt_alone_stops_the_live_view(
        fresh_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """Without central's stop command (lost, or another device's event): the agent
    stops on the ``resolved`` receipt for the incident."""
    stand_in = CentralStub(fresh_mosquitto, auto_store=True)
    try:
        config = camera_venue(fresh_mosquitto, tmp_path / "agent")
        with VenueSimulator(config, out=None) as sim:
            camera = sim.agent.camera
            assert camera is not None
            wait_for(lambda: sim.agent.connected, what="agent connected")
            event = sim.press("gate-button")
            ok, detail = camera.command(wire.SnapshotRequest(
                action="live", event_id=event.event_id, incident_id=42, live_s=600,
                fps=1).to_args())
            assert ok and detail["live_s"] == config.camera.live_max_s
            wait_for(lambda: camera.status()["live_views"] == 1, what="live view running")
            stand_in.receipt("school-01", event.event_id, "resolved", incident_id=42,
                             by="officer-li", outcome="false_alarm")
            wait_for(lambda: camera.status()["live_views"] == 0, what="stopped on receipt")
    finally:
        stand_in.close()
