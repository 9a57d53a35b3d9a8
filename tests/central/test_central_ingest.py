"""Ingest: dedupe, receipt after commit, dead letters, device supervision."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import both_backends
import pytest
from central_testkit import TOPICS, Recorder, event_message, make_event
from sqlite_utils import Database

from alarmlink.wire import (
    MAX_PAYLOAD_BYTES,
    CommandResult,
    Heartbeat,
    Stage,
    Status,
    encode,
    new_id,
    utcnow,
)
from central.ingest import Ingestor
from central.snapshots import SnapshotFiles

# issue 16, line 1: every test here runs on SQLite and on PostgreSQL
backend, db, ingestor = both_backends.backend, both_backends.db, both_backends.ingestor


def count(db: Database, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def dead_reasons(db: Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT reason FROM dead_letters ORDER BY id")]


def test_event_is_stored_once_and_receipted_each_time(
        ingestor: Ingestor, db: Database, recorder: Recorder) -> None:
    event = make_event()
    ingestor.handle(*event_message(event))
    ingestor.handle(*event_message(event))
    assert count(db, "events") == 1
    row = db.execute("SELECT deliveries, device_id, venue_id FROM events").fetchone()
    assert row == (2, "school-01", "school-01")
    assert recorder.stages(event.event_id) == ["stored", "stored"]
    assert {r.incident_id for r in recorder.receipts("school-01")} == {1}
    assert count(db, "incidents") == 1
    assert dead_reasons(db) == []


def test_receipt_is_published_only_after_commit(
        db: Database, db_path: Path, backend: str, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    seen: list[int] = []

    def committed_events() -> int:  # a second connection sees only committed rows
        if backend == "sqlite":
            other = sqlite3.connect(db_path)
            try:
                return int(other.execute("SELECT count(*) FROM events").fetchone()[0])
            finally:
                other.close()
        import psycopg

        with psycopg.connect(request.getfixturevalue("pg_url")) as pg:
            row = pg.execute("SELECT count(*) FROM events").fetchone()
            return int(row[0]) if row else -1

    def publish(topic: str, payload: bytes) -> None:
        seen.append(committed_events())

    Ingestor(db, TOPICS, publish, snapshot_files=SnapshotFiles(tmp_path / "s")).handle(
        *event_message(make_event()))
    assert seen == [1]


def test_publish_failure_does_not_undo_the_event(db: Database, tmp_path: Path) -> None:
    def broken(topic: str, payload: bytes) -> None:
        raise ConnectionError("broker gone")

    Ingestor(db, TOPICS, broken, snapshot_files=SnapshotFiles(tmp_path / "s")).handle(
        *event_message(make_event()))
    assert count(db, "events") == 1
    assert count(db, "dead_letters") == 0


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    (TOPICS.event("school-01"), b"{not json", "not valid UTF-8 JSON"),
    (TOPICS.event("school-01"), b'{"v": 2}', "unsupported schema version v=2"),
    (TOPICS.event("school-01"), b" " * (MAX_PAYLOAD_BYTES + 1), "over the 16384-byte limit"),
    (TOPICS.event("ghost-99"), b"{}", "unknown device 'ghost-99'"),
    (TOPICS.event("school-01"), b'{"v": 1, "extra": 1}', "invalid Event"),
    (TOPICS.receipt("school-01"), b"{}", "not sent by devices"),
    ("elsewhere/x", b"{}", "is not under alarmlink/v1/dev/"),
    (TOPICS.snapshot("school-01", new_id()), b"GIF89a", "snapshot is not a JPEG"),
], ids=lambda value: "snapshot-topic" if "/snapshot/" in str(value) else None)
def test_bad_input_is_dead_lettered_and_ingest_goes_on(
        ingestor: Ingestor, db: Database, recorder: Recorder,
        topic: str, payload: bytes, reason: str) -> None:
    ingestor.handle(topic, payload)
    rows = list(db.query("SELECT * FROM dead_letters"))
    assert len(rows) == 1
    assert reason in rows[0]["reason"]
    assert rows[0]["topic"] == topic
    assert rows[0]["payload_size"] == len(payload)
    assert rows[0]["payload"] == payload[:4096]
    assert recorder.receipts() == []
    good = make_event()
    ingestor.handle(*event_message(good))
    assert recorder.stages(good.event_id) == ["stored"]
    assert count(db, "events") == 1


def test_device_cannot_speak_for_another(ingestor: Ingestor, db: Database,
                                         recorder: Recorder) -> None:
    event = make_event("hotel-01", zone="lobby-button")
    ingestor.handle(*event_message(event, device_id="school-01"))
    assert dead_reasons(db) == [
        "device id in payload 'hotel-01' does not match topic 'school-01'"]
    assert count(db, "events") == 0
    # never stored; only the sender is told it was rejected (so it stops resending)
    assert [r.stage for r in recorder.receipts()] == ["rejected"]
    assert recorder.receipts("hotel-01") == []


def test_reused_event_id_from_another_device_is_refused(
        ingestor: Ingestor, db: Database, recorder: Recorder) -> None:
    first = make_event("school-01")
    ingestor.handle(*event_message(first))
    copy = make_event("hotel-01", zone="lobby-button", event_id=first.event_id)
    ingestor.handle(*event_message(copy))
    assert count(db, "events") == 1
    assert "already stored for device 'school-01'" in dead_reasons(db)[0]
    # never a 'stored' for the copy: hotel-01 is told its event is rejected
    assert [r.stage for r in recorder.receipts("hotel-01")] == ["rejected"]


def test_unexpected_error_becomes_a_dead_letter(
        ingestor: Ingestor, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(ingestor, "_status", explode)
    status = Status(state="online", ts=utcnow())
    ingestor.handle(TOPICS.status("school-01"), encode(status))
    assert dead_reasons(db) == ["internal error: KeyError: 'surprise'"]


def test_status_heartbeat_and_command_result_update_device_state(
        ingestor: Ingestor, db: Database) -> None:
    ingestor.handle(TOPICS.status("hotel-01"), encode(
        Status(state="online", ts=utcnow(), boot_id="b1", version="0.1.0", config_hash="c")))
    ingestor.handle(TOPICS.heartbeat("hotel-01"), encode(
        Heartbeat(ts=utcnow() + timedelta(minutes=5), uptime_s=12.5, outbox_depth=3,
                  inputs={"lobby-button": "normal"})))
    row = next(db.query("SELECT * FROM device_state WHERE device_id = 'hotel-01'"))
    assert row["availability"] == "online" and row["boot_id"] == "b1"
    assert row["outbox_depth"] == 3 and json.loads(row["inputs"]) == {"lobby-button": "normal"}
    assert row["clock_offset_s"] == pytest.approx(300, abs=30)
    ingestor.handle(TOPICS.status("hotel-01"), encode(Status(state="offline", ts=utcnow())))
    assert db.execute("SELECT availability FROM device_state").fetchone()[0] == "offline"
    cmd_id = new_id()
    for _ in range(2):
        ingestor.handle(TOPICS.cmd_result("hotel-01"),
                        encode(CommandResult(cmd_id=cmd_id, ok=True, ts=utcnow())))
    assert count(db, "command_results") == 1


def test_clock_skew_is_flagged_and_received_at_stamped(
        ingestor: Ingestor, db: Database) -> None:
    future = make_event(ts=utcnow() + timedelta(hours=1))
    late = make_event(ts=utcnow() - timedelta(minutes=10))  # delayed, e.g. broker outage
    ingestor.handle(*event_message(future))
    ingestor.handle(*event_message(late))
    rows = {r["event_id"]: r for r in db.query("SELECT * FROM events")}
    assert rows[future.event_id]["clock_skewed"] == 1
    assert rows[late.event_id]["clock_skewed"] == 0
    assert rows[late.event_id]["delay_s"] == pytest.approx(600, abs=30)
    assert rows[late.event_id]["received_at"] > rows[late.event_id]["ts"]


def test_unknown_zone_is_stored_and_flagged(ingestor: Ingestor, db: Database) -> None:
    event = make_event(zone="roof-smoke", kind="smoke")
    ingestor.handle(*event_message(event))
    assert db.execute("SELECT zone_known, incident_id FROM events").fetchone() == (0, 1)


def test_snapshot_is_stored(ingestor: Ingestor, db: Database) -> None:
    from alarmlink.wire import SnapshotMeta, SnapshotPhase, encode_snapshot

    event = make_event()
    ingestor.handle(*event_message(event))
    sof = b"\xff\xc0\x00\x0b\x08\x00\x04\x00\x04\x01\x01\x11\x00"  # 4x4, one component
    jpeg = (b"\xff\xd8\xff\xe0\x00\x04\x00\x00" + sof + b"\xff\xda\x00\x02"
            + b"\x00" * 100 + b"\xff\xd9")
    meta = SnapshotMeta(event_id=event.event_id, seq=1, ts=utcnow(), phase=SnapshotPhase.ALARM,
                        camera="main", width=4, height=4)
    payload = encode_snapshot(meta, jpeg)
    ingestor.handle(TOPICS.snapshot("school-01", event.event_id), payload)
    assert dead_reasons(db) == []
    assert db.execute("SELECT size, event_id, phase FROM snapshots").fetchone() == (
        len(payload), event.event_id, "alarm")


def test_an_event_joining_an_acknowledged_incident_is_flagged_not_receipted_acknowledged(
        ingestor: Ingestor, db: Database, recorder: Recorder) -> None:
    """Issue 12: the silent join. The venue's LED may say "acknowledged" only for an
    event an officer acknowledged; the incident says "new event since acknowledgement"."""
    from central.incidents import get_incident, transition

    first = make_event()
    ingestor.handle(*event_message(first))
    transition(db, 1, "acknowledge", "officer-li", utcnow())
    second = make_event(zone="dorm-2f-smoke", kind="smoke")
    ingestor.handle(*event_message(second))
    assert recorder.stages(second.event_id) == [Stage.STORED]
    incident = get_incident(db, 1)
    assert incident is not None and incident["new_since_ack"] is True
    assert incident["status"] == "acknowledged"
    result = transition(db, 1, "acknowledge", "officer-wang", utcnow())
    ack = [r for _, r in result.receipts if r.event_id == second.event_id]
    assert [(r.stage, r.by, r.incident_id) for r in ack] == [
        (Stage.ACKNOWLEDGED, "officer-wang", 1)]
    incident = get_incident(db, 1)
    assert incident is not None and incident["new_since_ack"] is False
    # a third press after a dispatch: flagged again; acknowledging keeps the dispatch
    transition(db, 1, "dispatch", "officer-li", utcnow())
    third = make_event()
    ingestor.handle(*event_message(third))
    assert recorder.stages(third.event_id) == [Stage.STORED]
    result = transition(db, 1, "acknowledge", "officer-li", utcnow())
    assert result.incident["status"] == "dispatched"
    assert {r.event_id for _, r in result.receipts} == {
        first.event_id, second.event_id, third.event_id}
    assert {r.stage for _, r in result.receipts} == {Stage.DISPATCHED}


def test_conflicting_duplicate_is_kept_as_dead_letter_and_still_receipted(
        ingestor: Ingestor, db: Database, recorder: Recorder) -> None:
    first = make_event(seq=7)
    ingestor.handle(*event_message(first))
    clash = make_event(seq=8, zone="dorm-2f-smoke", event_id=first.event_id)
    ingestor.handle(*event_message(clash))
    assert count(db, "events") == 1
    assert "with different content" in dead_reasons(db)[0]
    assert recorder.stages(first.event_id) == ["stored", "stored"]


def test_an_event_central_cannot_accept_gets_a_rejected_receipt(
        ingestor: Ingestor, db: Database, recorder: Recorder) -> None:
    """Issue 11, line 5: the device is told, so it stops resending; the dead letter stays."""
    foreign = make_event(device_id="hotel-01")
    ingestor.handle(TOPICS.event("school-01"), encode(foreign))  # payload of another device
    broken = json.loads(encode(make_event()))
    broken["kind"] = "meteor"  # fails the contract, but its event_id is readable
    ingestor.handle(TOPICS.event("school-01"), json.dumps(broken).encode())
    ingestor.handle(TOPICS.event("school-01"), b"\xff not json")  # no event id: dead letter only
    rejected = [r for r in recorder.receipts("school-01") if r.stage == "rejected"]
    assert [r.event_id for r in rejected] == [foreign.event_id, broken["event_id"]]
    assert "does not match topic" in (rejected[0].reason or "")
    assert "kind" in (rejected[1].reason or "")
    assert count(db, "events") == 0 and count(db, "dead_letters") == 3


def test_a_batch_writes_each_devices_heartbeat_once_and_a_later_status_wins(
        ingestor: Ingestor, db: Database) -> None:
    """Heartbeats of a batch are coalesced to one row per device at the batch's end (issue
    11); a last will later in the same batch still leaves the device offline."""
    from central.ingest_queue import Delivery

    def beat(uptime: float) -> Delivery:
        return Delivery(TOPICS.heartbeat("school-01"), encode(Heartbeat(
            ts=utcnow(), uptime_s=uptime, outbox_depth=0)))

    offline = Delivery(TOPICS.status("school-01"), encode(Status(state="offline", ts=utcnow())))
    ingestor.handle_batch([beat(1.0), beat(2.0), beat(3.0)])
    row = db.execute("SELECT availability, uptime_s FROM device_state "
                     "WHERE device_id = 'school-01'").fetchone()
    assert row == ("online", 3.0)
    ingestor.handle_batch([beat(4.0), offline])
    row = db.execute("SELECT availability, uptime_s FROM device_state "
                     "WHERE device_id = 'school-01'").fetchone()
    assert row == ("offline", 4.0)
