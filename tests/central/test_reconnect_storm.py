"""A broker restart is central's outage, not the devices' (issue 17, line 2).

A stopping Mosquitto publishes every device's last will; central's persistent session
delivers them again after its reconnect, ahead of the devices' new ``online`` statuses.
Here, without a broker: supervision reads a will noted around central's own loss of the
broker as silence (fake clock), and the ingest queue lets a device's newer status replace
its older one still waiting (never an event). The end-to-end storm, with a real broker,
a real central process and a simulated fleet, is in tests/e2e/test_reconnect_storm.py.
Supervision's storage runs on SQLite and on PostgreSQL; the queue's order is the queue's.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path

import both_backends
import pytest
from central_testkit import DEMO_REGISTRY, TOPICS, Recorder, event_message, make_event
from helpers import wait_for
from sqlite_utils import Database
from test_central_supervision import FAST, Rig

from alarmlink.wire import Availability, Status, encode, utcnow
from central.db import Writer, open_db
from central.db.writer import URGENT_RUN
from central.ingest import Ingestor
from central.ingest_queue import Delivery, IngestQueue
from central.log_burst import BurstLog
from central.registry import load_registry
from central.snapshots import SnapshotFiles
from central.supervision import MIN_BEFORE_YIELD, Supervisor
from central.supervision_config import SupervisionConfig

backend, db = both_backends.backend, both_backends.db


@pytest.fixture
def rig(db: Database) -> Rig:
    """school-01 and hotel-01 in the `fast` class (silence 11 s, grace 5 s)."""
    db.execute("UPDATE devices SET device_class = 'fast' WHERE id IN ('school-01', 'hotel-01')")
    db.conn.commit()
    return Rig(db)


def _storm(rig: Rig) -> None:
    """Both fast-class devices up and heard; then the broker stops: it publishes their
    wills, and central loses its connection a moment later."""
    rig.supervisor.set_listening(True, epoch=1)
    for device in ("school-01", "hotel-01"):
        rig.status(device, "online")
    rig.run(3, each=lambda: [rig.beat(d) for d in ("school-01", "hotel-01")])
    rig.status("school-01", "offline")  # the stopping broker's wills, just before ...
    rig.status("hotel-01", "offline")
    rig.clock.advance(0.3)
    rig.supervisor.set_listening(False, epoch=1)  # ... central's own connection drops


def test_a_will_from_a_stopping_broker_counts_as_silence_not_as_offline(rig: Rig) -> None:
    _storm(rig)
    rig.run(1.0)
    rig.supervisor.set_listening(True, epoch=2)  # central is back (its second connection)
    back = rig.clock()
    board = rig.supervisor.board()["school-01"]
    assert board["trouble_due_at"] is not None
    assert board["trouble_due_at"] >= (back + timedelta(seconds=FAST.silence_s)).isoformat()[:19]

    def hotel_back() -> None:  # hotel-01 reconnects 8 s on: later than its 5 s grace
        if rig.clock() >= back + timedelta(seconds=8):
            if rig.sup("hotel-01")["state"] != "up":
                rig.status("hotel-01", "online")
            rig.beat("hotel-01")

    quiet = FAST.silence_s + FAST.grace_s - 0.5
    assert rig.run(quiet, each=hotel_back) == [], "a will of the storm raised a trouble early"
    # school-01 never came back: it is a trouble, as if silent since central heard again
    [trouble] = rig.run(2.0, each=hotel_back)
    assert trouble["zones"] == {"device:school-01": "offline"}
    rig.run(30, each=hotel_back)
    assert len(rig.troubles()) == 1, "hotel-01 came back: no trouble for it"
    hotel = rig.sup("hotel-01")
    assert hotel["state"] == "up" and hotel["dropouts"] == 1


def test_a_reconnect_between_two_passes_is_seen_by_the_connection_epoch(rig: Rig) -> None:
    rig.supervisor.set_listening(True, epoch=1)
    rig.status("school-01", "online")
    rig.run(3, each=lambda: rig.beat("school-01"))
    rig.status("school-01", "offline")
    rig.clock.advance(0.5)
    rig.supervisor.set_listening(True, epoch=2)  # lost and back before any pass saw it
    assert rig.run(FAST.silence_s + FAST.grace_s - 0.5) == []
    assert len(rig.run(2.0)) == 1


def test_a_loss_before_any_pass_saw_central_listening_still_doubts_the_wills(
        rig: Rig) -> None:
    rig.supervisor = Supervisor(rig.db, rig.supervisor.config, rig.clock)  # fresh: no pass yet
    rig.supervisor.set_listening(False, epoch=0)  # the first pass: not connected yet
    rig.status("school-01", "online")  # central connects and hears school-01, then the
    rig.status("school-01", "offline")  # broker stops within a second: its will ...
    rig.clock.advance(0.5)
    rig.supervisor.set_listening(False, epoch=1)  # ... and central lost, no pass between
    assert rig.run(FAST.grace_s + 2) == [], "the stopping broker's will raised a trouble"
    rig.supervisor.set_listening(True, epoch=2)
    rig.status("school-01", "online")
    assert rig.run(FAST.silence_s + FAST.grace_s, each=lambda: rig.beat("school-01")) == []


def test_a_will_long_after_the_reconnect_is_believed_after_the_grace(rig: Rig) -> None:
    _storm(rig)
    rig.supervisor.set_listening(True, epoch=2)
    rig.run(FAST.silence_s + 1, each=lambda: [rig.beat(d) for d in ("school-01", "hotel-01")])
    rig.status("school-01", "offline")  # a real loss, central hearing all along
    assert rig.run(FAST.grace_s - 0.5, each=lambda: rig.beat("hotel-01")) == []
    [trouble] = rig.run(1.0, each=lambda: rig.beat("hotel-01"))
    assert trouble["zones"] == {"device:school-01": "offline"}


def _status(device: str, state: Availability) -> Delivery:
    return Delivery(TOPICS.status(device), encode(Status(state=state, ts=utcnow())))


def test_a_newer_status_replaces_a_queued_older_one_and_no_event_is_coalesced(
        tmp_path: Path) -> None:
    writer = Writer(open_db(tmp_path / "q.db"))
    batches: list[list[Delivery]] = []
    queue = IngestQueue(writer, batches.append)
    acked: list[str] = []
    gate = threading.Event()
    writer.submit(lambda _db: gate.wait(10))  # the writer is busy: everything waits

    def put(name: str, delivery: Delivery) -> Delivery:
        delivery.ack = lambda: acked.append(name)
        queue.put(delivery)
        return delivery

    try:
        will = put("will", _status("school-01", Availability.OFFLINE))
        wills = [will.payload]
        first = put("alarm-1", Delivery(*event_message(make_event(seq=1))))
        wills.append(put("will-again", _status("school-01", Availability.OFFLINE)).payload)
        online = put("online", _status("school-01", Availability.ONLINE))
        put("hotel", _status("hotel-01", Availability.OFFLINE))
        second = put("alarm-2", Delivery(*event_message(make_event(seq=2))))
        assert acked == ["will", "will-again"], "replaced statuses are acknowledged at once"
        assert queue.depth == 4 and queue.coalesced == 2
        gate.set()
        wait_for(lambda: sum(map(len, batches)) == 4, what="every message taken")
        taken = [d for batch in batches for d in batch]
        assert taken[:2] == [first, second], "both alarms, first and in order"
        [school] = [d for d in taken if d.topic == TOPICS.status("school-01")]
        assert school is will, "the newest status took the oldest one's place in the queue"
        assert school.payload == online.payload and school.superseded == wills
        wait_for(lambda: "online" in acked, what="the newest status acknowledged after commit")

        put("later", _status("school-01", Availability.ONLINE))  # the older one was taken
        wait_for(lambda: sum(map(len, batches)) == 5, what="a new status queued anew")
        assert batches[-1][0].superseded == [] and queue.coalesced == 2
    finally:
        gate.set()
        writer.close()


def test_ingest_checks_and_counts_the_statuses_a_newer_one_replaced(db: Database,
                                                                    tmp_path: Path) -> None:
    ingestor = Ingestor(db, TOPICS, Recorder(),
                        snapshot_files=SnapshotFiles(tmp_path / "snapshots"))
    newest = _status("school-01", Availability.ONLINE)
    newest.superseded = [b"{not json", encode(Status(state=Availability.OFFLINE, ts=utcnow())),
                         encode(Status(state=Availability.ONLINE, ts=utcnow()))]
    ingestor.handle_batch([newest])
    [dead] = list(db.query("SELECT topic, reason FROM dead_letters"))
    assert dead["topic"] == TOPICS.status("school-01") and dead["reason"]
    [state] = list(db.query("SELECT availability FROM device_state WHERE device_id = ?",
                            ["school-01"]))
    assert state["availability"] == "online"
    assert len(ingestor.reconnects._online["school-01"]) == 2, \
        "the replaced online status still counts as a reconnect"


def test_a_down_device_heard_again_by_heartbeat_alone_is_judged_at_the_next_pass(
        rig: Rig) -> None:
    """Wired as in central (ingest tells supervision each heartbeat): a pass no longer
    reads every down device, which after a broker restart are thousands; a heartbeat
    from one of them wakes it."""
    rig.ingestor.on_heard = rig.supervisor.heard
    rig.status("school-01", "online")
    rig.status("hotel-01", "online")
    rig.beat("school-01")
    rig.run(FAST.silence_s + FAST.grace_s + 2, each=lambda: rig.beat("hotel-01"))
    assert rig.sup("school-01")["state"] == "trouble"
    rig.run(10, each=lambda: rig.beat("hotel-01"))
    rig.tick()
    assert rig.supervisor.examined == 0, "down and unheard: not read again"
    rig.beat("school-01")  # back, heartbeats only (no status)
    [restored] = rig.tick()
    assert restored["zones"] == {"device:school-01": "restored"}
    assert rig.sup("school-01")["state"] == "up"


def test_a_storm_of_status_lines_is_logged_as_a_summary(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = BurstLog(logging.getLogger("test.burst"), "device status lines", per_window=3,
                   window_s=10, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="test.burst"):
        for n in range(10):
            log.log("online" if n % 2 else "offline", "device %s is up", n)
        now[0] = 11.0
        log.log("online", "device %s is up", "after")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[:3] == ["device 0 is up", "device 1 is up", "device 2 is up"]
    assert lines[3] == ("7 more device status lines in 10 s not logged one by one "
                        "(3 offline, 4 online)")
    assert lines[4] == "device after is up" and len(lines) == 5


def test_no_device_is_silent_while_central_is_far_behind_on_what_it_heard(rig: Rig) -> None:
    """After a broker restart heartbeats wait behind every device's will and status in
    central's own queue: that is not the devices' silence."""
    rig.supervisor.set_listening(True, epoch=1)
    rig.status("school-01", "online")
    rig.beat("school-01")
    rig.supervisor.set_listening(True, epoch=1, lag_s=8.0)  # ingest 8 s behind
    assert rig.run(FAST.silence_s * 3) == []
    assert rig.sup("school-01")["state"] == "up"
    rig.supervisor.set_listening(True, epoch=1, lag_s=3.0)  # catching up: still behind
    assert rig.run(FAST.silence_s + 1) == []
    rig.supervisor.set_listening(True, epoch=1, lag_s=0.0)  # caught up: a full silence
    assert rig.run(FAST.silence_s + FAST.grace_s - 1) == []
    [trouble] = rig.run(2)
    assert rig.sup("school-01")["reason"] == "silent"


def test_a_will_for_a_device_already_silent_keeps_it_judged_as_silence(rig: Rig) -> None:
    rig.supervisor.set_listening(True, epoch=1)
    rig.status("school-01", "online")
    rig.beat("school-01")
    rig.run(FAST.silence_s + 1)
    assert rig.sup("school-01")["reason"] == "silent"
    rig.status("school-01", "offline")  # a restarting broker's will, long after
    assert rig.sup("school-01")["reason"] == "silent"


def test_central_falling_behind_right_after_a_reconnect_keeps_the_storms_wills_doubtful(
        rig: Rig) -> None:
    _storm(rig)
    rig.supervisor.set_listening(True, epoch=2)  # back ...
    rig.run(3.0)
    rig.supervisor.set_listening(True, epoch=2, lag_s=8.0)  # ... and swamped by the storm
    rig.run(10.0)
    rig.supervisor.set_listening(True, epoch=2, lag_s=0.0)
    assert rig.run(FAST.silence_s + FAST.grace_s - 1) == [], "the storm's wills were believed"
    opened = rig.run(2.0)  # neither came back: each a trouble at its venue, only now
    assert sorted(z for t in opened for z in t["zones"]) == ["device:hotel-01",
                                                             "device:school-01"]


def test_reconnects_after_broker_restarts_do_not_count_as_a_shared_identity(
        db: Database) -> None:
    """Every device reconnects after each broker restart: a rolling upgrade with several
    restarts in 10 min must not raise 10,000 'reconnects unusually often' troubles."""
    rig = Rig(db, SupervisionConfig(reconnect_alert_count=2))
    rig.ingestor.reconnects.alert_count = 2  # more than 2 reconnects in 10 min: trouble
    rig.supervisor.set_listening(True, epoch=1)
    rig.ingestor.reconnects.excused = rig.supervisor.doubting  # as central wires it
    for epoch in (2, 3, 4, 5):  # four restarts, a minute apart
        rig.supervisor.set_listening(True, epoch=epoch)
        rig.status("school-01", "online")
        rig.run(60.0, step=5.0, each=lambda: rig.beat("school-01"))
    assert rig.troubles() == []
    rig.run(200.0, step=5.0, each=lambda: rig.beat("school-01"))  # the window closes
    for _ in range(3):  # the same device reconnecting while the broker stays up
        rig.status("school-01", "online")
        rig.clock.advance(10)
    [trouble] = rig.troubles()
    assert trouble["zones"] == {"identity:school-01": "reconnecting"}


# --- an alarm during the storm: nothing long on the writer makes it wait -----------------

def _fleet(db: Database, n: int, device_class: str = "") -> list[str]:
    """``n`` more devices of venue school-01 (a storm needs more than the demo's three)."""
    ids = [f"bg-{k:03d}" for k in range(n)]
    db.conn.executemany("INSERT INTO devices (id, venue_id, zones, device_class) VALUES "
                        "(?, 'school-01', '[\"z1\"]', ?)", [(i, device_class) for i in ids])
    db.conn.commit()
    return ids


def test_a_batch_of_storm_statuses_stops_for_an_alarm_and_finishes_after_it(
        db_path: Path) -> None:
    """The writer works through 200 devices' statuses (one batch); an alarm arrives as the
    batch starts. The batch commits after a few statuses, the alarm's batch runs next, then
    the rest of the statuses: every status written, every PUBACK after its own commit."""
    setup = open_db(db_path)
    load_registry(setup, DEMO_REGISTRY)
    devices = _fleet(setup, 200)
    setup.close()
    writer = Writer(open_db(db_path))
    ingestor = Ingestor(writer, TOPICS, Recorder())
    acked: list[str] = []  # topics in PUBACK order
    committed: list[int] = []  # device_state rows at each PUBACK (acks follow commits)
    queue = IngestQueue(writer, ingestor.handle_batch)
    ingestor.should_yield = queue.alarm_waiting
    alarm = make_event(device_id="school-01", zone="gate-button")

    def ack(topic: str) -> None:
        acked.append(topic)
        committed.append(len(writer.db.execute("SELECT 1 FROM device_state").fetchall()))

    def delivery(topic: str, payload: bytes) -> Delivery:
        return Delivery(topic, payload, lambda: ack(topic))

    gate = threading.Event()
    writer.submit(lambda _db: gate.wait(10))  # everything queues behind this job
    try:
        for device in devices:
            queue.put(delivery(TOPICS.status(device), encode(
                Status(state=Availability.ONLINE, ts=utcnow(), boot_id="b"))))
        real = queue.handle_batch

        def alarm_arrives(batch: list[Delivery]) -> int | None:
            if batch[0].topic.endswith("/status") and not queue.yielded:
                queue.put(delivery(*event_message(alarm)))  # paho's thread, meanwhile
            return real(batch)

        queue.handle_batch = alarm_arrives
        gate.set()
        wait_for(lambda: len(acked) == 201, what="every message acknowledged")
        at = acked.index(TOPICS.event("school-01"))
        assert at <= 16, f"the alarm waited for {at} statuses"
        assert queue.yielded == 1
        assert sorted(acked[:at] + acked[at + 1:]) == sorted(TOPICS.status(d) for d in devices)
        assert committed[-1] == 200 and committed[at] == at, "each PUBACK after its commit"
        assert writer.db.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    finally:
        gate.set()
        writer.close()


def test_an_alarm_jumps_the_writers_queue_but_cannot_starve_the_rest(db_path: Path) -> None:
    """Urgent jobs (ingest's drain when an alarm waits) run before the queued supervision
    passes and officers' actions; at most URGENT_RUN of them in a row while others wait."""
    writer = Writer(open_db(db_path))
    ran: list[str] = []
    gate, busy = threading.Event(), threading.Event()
    writer.submit(lambda _db: (busy.set(), gate.wait(10)))
    try:
        assert busy.wait(10)  # the writer is in a long job: the rest queue behind it
        for n in range(3):
            writer.submit(lambda _db, n=n: ran.append(f"pass-{n}"))
        for n in range(URGENT_RUN + 2):
            writer.submit_urgent(lambda _db, n=n: ran.append(f"alarm-{n}"))
        gate.set()
        writer.submit(lambda _db: None).result(10)
        assert ran[:URGENT_RUN] == [f"alarm-{n}" for n in range(URGENT_RUN)]
        assert ran[URGENT_RUN] == "pass-0", "a waiting job gets its turn"
        assert ran[URGENT_RUN + 1:URGENT_RUN + 3] == [f"alarm-{URGENT_RUN}",
                                                      f"alarm-{URGENT_RUN + 1}"]
    finally:
        gate.set()
        writer.close()


def test_a_supervision_pass_stops_for_an_alarm_and_the_next_pass_judges_the_rest(
        db: Database) -> None:
    """A pass over many changed devices commits early when an alarm waits for the writer;
    the devices it left are judged in the next pass: each real loss still becomes its
    trouble after the grace (none forgotten until the 5-minute rescan)."""
    devices = _fleet(db, 60, device_class="fast")
    rig = Rig(db)
    for device in devices:  # connected, then lost for real (no broker restart)
        rig.status(device, "online")
        rig.status(device, "offline")
    alarm_waiting = [True]
    rig.supervisor.should_yield = lambda: alarm_waiting[0]
    rig.clock.advance(0.5)
    assert rig.tick() == []
    alarm_waiting[0] = False
    assert len(rig.supervisor._deferred) == 63 - MIN_BEFORE_YIELD  # noqa: SLF001
    [trouble] = rig.run(FAST.grace_s + 1)
    zones = rig.troubles()[0]["zones"]
    assert trouble["category"] == "trouble"
    assert sorted(z for z in zones if z.startswith("device:bg-")) == [
        f"device:{d}" for d in devices], "every lost device is a trouble"
