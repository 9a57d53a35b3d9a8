"""Issue 4, line 4: an oversize or non-JPEG snapshot is dead-lettered with a reason and
nothing else breaks; the agent itself shrinks frames to fit its cap."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from camera_testkit import camera_venue, incident_frames, open_incident
from fixtures.central import CentralProcess
from fixtures.mqtt import MqttTestClient
from helpers import device_user, wait_for
from PIL import Image

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from edge_agent.camera.jpeg import fit_jpeg
from edge_agent.camera.sources import Frame
from simulators.venue import VenueSimulator

TOPICS = wire.Topics()


def jpeg(width: int = 64, height: int = 48, *, noise: bool = False, quality: int = 80) -> bytes:
    image = (Image.effect_noise((width, height), 80).convert("RGB") if noise
             else Image.new("RGB", (width, height), (200, 30, 30)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def snapshot(event_id: str, seq: int = 1, body: bytes | None = None) -> bytes:
    meta = wire.SnapshotMeta(event_id=event_id, seq=seq, ts=wire.utcnow(),
                             phase=wire.SnapshotPhase.ALARM, camera="main", width=64, height=48)
    return wire.encode_snapshot(meta, body or jpeg())


def test_bad_snapshots_are_dead_lettered_and_good_ones_still_stored(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        mqtt_test_client: Callable[..., MqttTestClient]) -> None:
    # a raw client with school-01's credentials: publishes whatever it is given
    device = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"),
                              protocol=mqtt.MQTTv311)
    assert device.accepted, "raw device client did not connect"
    try:
        event = wire.Event(event_id=wire.new_id(), device_id="school-01", seq=1,
                           ts=wire.utcnow(), kind="panic", state="alarm", zone="gate-button",
                           source="gpio")
        device.publish(TOPICS.event("school-01"), wire.encode(event))
        wait_for(lambda: central_process.rows("SELECT 1 FROM events"), what="event stored")
        topic = TOPICS.snapshot("school-01", event.event_id)
        good = jpeg()
        bad: list[tuple[str, bytes, str]] = [
            (topic, wire.JPEG_MAGIC + b"\0" * wire.MAX_SNAPSHOT_BYTES + b"\xff\xd9",
             "over the 524288-byte limit"),
            (topic, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not a JPEG"),
            (topic, good, "carries no alarmlink metadata"),
            (topic, snapshot(event.event_id)[:-40], "truncated"),
            (topic, snapshot(wire.new_id()), "does not match the topic"),
            (TOPICS.snapshot("school-01", (other := wire.new_id())), snapshot(other),
             "unknown event"),
        ]
        for bad_topic, payload, _reason in bad:
            device.publish(bad_topic, payload)
        ok = snapshot(event.event_id, seq=7)
        device.publish(topic, ok)
        wait_for(lambda: central_process.rows("SELECT 1 FROM snapshots"),
                 what="good snapshot stored")
        dead = wait_for(lambda: (lambda rows: rows if len(rows) == len(bad) else None)(
            central_process.api("GET", "/api/dead-letters")),
            what="every bad snapshot dead-lettered")
    finally:
        device.close()
    by_reason: dict[str, dict[str, Any]] = {}
    for _topic, payload, reason in bad:
        match = [d for d in dead if reason in d["reason"]]
        assert len(match) == 1, (reason, [d["reason"] for d in dead])
        assert match[0]["payload_size"] == len(payload)
        assert match[0]["device_id"] == "school-01"
        by_reason[reason] = match[0]
    (row,) = central_process.rows("SELECT seq, size, phase FROM snapshots")
    assert (row["seq"], row["size"], row["phase"]) == (7, len(ok), "alarm")
    assert central_process.api("GET", "/healthz")["ok"] is True


def test_giant_jpeg_header_with_small_metadata_is_dead_lettered(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        mqtt_test_client: Callable[..., MqttTestClient]) -> None:
    """A frame header declaring 60000x60000 pixels in a few dozen bytes, with metadata
    saying 64x48: dead-lettered with the dimensions, never stored; a good frame after
    it is."""
    device = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
    event = wire.Event(event_id=wire.new_id(), device_id="school-01", seq=1,
                       ts=wire.utcnow(), kind="panic", state="alarm", zone="gate-button",
                       source="gpio")
    device.publish(TOPICS.event("school-01"), wire.encode(event))
    wait_for(lambda: central_process.rows("SELECT 1 FROM events"), what="event stored")
    sof = (b"\xff\xc0\x00\x0b\x08" + (60000).to_bytes(2, "big") * 2
           + b"\x01\x01\x11\x00")
    bomb = b"\xff\xd8" + sof + b"\xff\xda\x00\x02" + b"\x00" * 32 + b"\xff\xd9"
    topic = TOPICS.snapshot("school-01", event.event_id)
    payload = snapshot(event.event_id, body=bomb)
    assert len(payload) < 1024
    device.publish(topic, payload)
    device.publish(topic, snapshot(event.event_id, seq=2))
    wait_for(lambda: central_process.rows("SELECT 1 FROM snapshots"), what="the good frame")
    (dead,) = wait_for(lambda: central_process.api("GET", "/api/dead-letters"),
                       what="the bomb dead-lettered")
    assert "60000x60000" in dead["reason"] and "pixel cap" in dead["reason"], dead["reason"]
    assert dead["payload_size"] == len(payload) and dead["device_id"] == "school-01"
    assert [r["seq"] for r in central_process.rows("SELECT seq FROM snapshots")] == [2]


def test_agent_shrinks_a_frame_over_its_cap(tmp_path: Path) -> None:
    big = jpeg(1600, 1200, noise=True, quality=95)
    cap = 48 * 1024
    assert len(big) > 8 * cap
    fitted = fit_jpeg(Frame(big, wire.utcnow(), 0.0, 1600, 1200), cap)
    assert len(fitted.jpeg) <= cap and fitted.jpeg.startswith(wire.JPEG_MAGIC)
    assert Image.open(io.BytesIO(fitted.jpeg)).size == (fitted.width, fitted.height)
    assert fitted.width < 1600  # noise does not compress: it had to be scaled down


def test_directory_camera_frames_arrive_under_the_configured_cap(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, tmp_path: Path) -> None:
    folder = tmp_path / "recorded"
    folder.mkdir()
    (folder / "0001.jpg").write_bytes(jpeg(1024, 768, noise=True, quality=95))
    config = camera_venue(fresh_mosquitto, tmp_path / "agent", type="directory",
                          directory=str(folder),
                          width=1280, height=720, max_bytes=32 * 1024, buffer_s=0,
                          post_frames=0, outbox_max_bytes=1024 * 1024)
    with VenueSimulator(config, out=None) as sim:
        wait_for(lambda: sim.agent.connected, what="agent connected")
        sim.press("gate-button")
        incident = wait_for(lambda: open_incident(central_process), what="incident")
        (frame,) = wait_for(lambda: incident_frames(central_process, incident["id"]),
                            what="the alarm frame")
    assert frame["phase"] == "alarm" and frame["size"] <= 32 * 1024
    assert (frame["width"], frame["height"]) != (1024, 768)
