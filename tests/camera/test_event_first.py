"""Issue 4, line 2: the alarm event is stored before any snapshot of it, even with a
camera that takes 1 s a frame; and pictures never hold the event back."""

from __future__ import annotations

from pathlib import Path

from agent.agent_testkit import TOPICS
from camera_testkit import GatedCamera, camera_venue
from fixtures.central import CentralProcess
from fixtures.mqtt import CentralStub
from helpers import wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator


def test_event_is_stored_before_its_pictures_with_a_one_second_camera(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, tmp_path: Path) -> None:
    config = camera_venue(fresh_mosquitto, tmp_path / "agent", frame_delay_s=1.0, buffer_s=3,
                          buffer_fps=1, post_frames=1, post_fps=1)
    with VenueSimulator(config, out=None) as sim:
        camera = sim.agent.camera
        assert camera is not None
        wait_for(lambda: sim.agent.connected, what="agent connected")
        wait_for(lambda: camera.frames_captured >= 1, what="a pre-alarm frame")
        event = sim.press("gate-button")
        wait_for(lambda: {r["phase"] for r in central_process.rows(
            "SELECT phase FROM snapshots WHERE event_id = ?", (event.event_id,))}
            >= {"pre", "alarm", "post"}, timeout=15, what="pre, alarm and post frames")
    (stored,) = central_process.rows("SELECT received_at FROM events WHERE event_id = ?",
                                     (event.event_id,))
    pictures = central_process.rows("SELECT received_at, phase FROM snapshots WHERE event_id = ?",
                                    (event.event_id,))
    assert all(p["received_at"] >= stored["received_at"] for p in pictures), \
        [(p["phase"], p["received_at"], stored["received_at"]) for p in pictures]


def test_event_reaches_central_while_the_camera_is_hung(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, tmp_path: Path) -> None:
    config = camera_venue(fresh_mosquitto, tmp_path / "agent")
    sim = VenueSimulator(config, out=None)
    camera = sim.agent.camera
    assert camera is not None
    gate = camera.source = GatedCamera(camera.source)
    with sim:
        wait_for(lambda: sim.agent.connected, what="agent connected")
        wait_for(lambda: camera.frames_captured >= 2, what="pre-alarm frames")
        gate.block()
        wait_for(lambda: gate.blocked_calls >= 1, what="the camera stuck in a capture")
        event = sim.press("gate-button")
        wait_for(lambda: central_process.rows("SELECT 1 FROM events WHERE event_id = ?",
                                              (event.event_id,)), what="event stored at central")
        assert gate.blocked_calls == 1 and gate.hung  # still hung meanwhile
        # the pre-alarm frames did not need the camera either: they are already there
        wait_for(lambda: central_process.rows("SELECT 1 FROM snapshots WHERE event_id = ? AND "
                                              "phase = 'pre'", (event.event_id,)),
                 what="pre-alarm frames while the camera hangs")
        gate.release()
        wait_for(lambda: central_process.rows("SELECT 1 FROM snapshots WHERE event_id = ? AND "
                                              "phase = 'alarm'", (event.event_id,)),
                 what="the alarm frame once the camera answers")


def test_pictures_wait_for_the_events_stored_receipt(
        fresh_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    observer = CentralStub(fresh_mosquitto, auto_store=False)  # records, never answers
    try:
        config = camera_venue(fresh_mosquitto, tmp_path / "agent")
        with VenueSimulator(config, out=None) as sim:
            camera = sim.agent.camera
            assert camera is not None
            wait_for(lambda: sim.agent.connected, what="agent connected")
            wait_for(lambda: camera.frames_captured >= 2, what="pre-alarm frames")
            event = sim.press("gate-button")
            wait_for(lambda: observer.events(), what="the event published")
            wait_for(lambda: camera.outbox.stats()["frames"] >= 3,
                     what="pre and alarm frames queued")
            snapshot_topic = TOPICS.snapshot("school-01", event.event_id)
            # The frames wait while the event is unconfirmed; the sender has had many
            # passes meanwhile (each wake-up checks): a receipt-less event sends nothing.
            passes = camera.sender.sent
            wait_for(lambda: camera.frames_captured >= 6, what="more camera frames")
            assert observer.on(snapshot_topic) == [] and camera.sender.sent == passes
            observer.receipt("school-01", event.event_id, "stored")
            wait_for(lambda: len(observer.on(snapshot_topic)) >= 3,
                     what="pictures after the stored receipt")
            metas = [wire.decode_snapshot(m.payload) for m in observer.on(snapshot_topic)]
            assert {m.event_id for m in metas} == {event.event_id}
            wait_for(lambda: camera.outbox.stats()["frames"] == 0,
                     what="outbox emptied by PUBACKs")
    finally:
        observer.close()
