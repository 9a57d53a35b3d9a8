"""Issue 4, line 1: a simulated alarm with the test-pattern camera produces an incident
whose snapshots, including at least one pre-alarm frame, are stored at central and
visible through the API within 2 seconds."""

from __future__ import annotations

import io
import time
from pathlib import Path

from camera_testkit import camera_venue, incident_frames, open_incident, phases
from fixtures.central import CentralProcess
from helpers import wait_for
from PIL import Image

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator


def test_alarm_pictures_with_pre_alarm_frames_are_at_central_within_2_seconds(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, tmp_path: Path) -> None:
    config = camera_venue(fresh_mosquitto, tmp_path / "agent", width=1280, height=720)
    with VenueSimulator(config, out=None) as sim:
        camera = sim.agent.camera
        assert camera is not None
        wait_for(lambda: sim.agent.connected, what="agent connected")
        wait_for(lambda: camera.frames_captured >= 2, what="pre-alarm buffer filling")

        pressed = time.monotonic()
        event = sim.press("gate-button")

        def pictures_visible() -> list[dict[str, object]] | None:
            incident = open_incident(central_process)
            if incident is None:
                return None
            frames = incident_frames(central_process, incident["id"])
            return frames if {"pre", "alarm"} <= set(phases(frames)) else None

        wait_for(pictures_visible, timeout=10, interval=0.02,
                 what="pre-alarm and alarm frames through the API")
        elapsed = time.monotonic() - pressed
        assert elapsed < 2.0, f"pictures took {elapsed:.2f} s to reach the API"

        incident = open_incident(central_process)
        assert incident is not None
        frames = wait_for(lambda: (lambda f: f if phases(f).count("post") == 2 else None)(
            incident_frames(central_process, incident["id"])), what="the two post-alarm frames")
    assert {f["event_id"] for f in frames} == {event.event_id}
    assert {f["device_id"] for f in frames} == {"school-01"}
    order = phases(frames)  # sorted by frame time: before, at, after the trigger
    assert order == sorted(order, key=["pre", "alarm", "post"].index)
    assert order.count("alarm") == 1 and order.count("pre") >= 1
    assert len({f["sha256"] for f in frames}) == len(frames), "frames must differ"

    alarm = next(f for f in frames if f["phase"] == "alarm")
    with central_process.open(alarm["url"]) as resp:
        assert resp.headers["Content-Type"] == "image/jpeg"
        body = resp.read()
    assert body.startswith(wire.JPEG_MAGIC) and len(body) == alarm["size"]
    meta = wire.decode_snapshot(body)
    assert (meta.event_id, meta.phase, meta.seq) == (event.event_id, wire.SnapshotPhase.ALARM,
                                                      alarm["seq"])
    assert Image.open(io.BytesIO(body)).size == (1280, 720)
    by_sha = central_process.api("GET", f"/api/incidents/{incident['id']}/snapshots")
    assert by_sha["snapshots"][0]["url"].endswith(".jpg")
    with central_process.open(f"/api/snapshots/{alarm['sha256']}.jpg") as resp:
        assert resp.read() == body
    stored = central_process.rows("SELECT sha256 FROM snapshots WHERE id = ?", (alarm["id"],))[0]
    on_disk = central_process.workdir / "snapshots" / stored["sha256"][:2] / stored["sha256"][2:4]
    assert (on_disk / f"{stored['sha256']}.jpg").read_bytes() == body
