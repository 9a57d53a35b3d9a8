"""Issue 11: a batch's writes are issued per batch (central/ingest_bulk.py), and a batch
leaves exactly what the same messages handled one by one leave: events with their
deliveries, incidents with their zones, kinds and counts, the incident log, dead letters
and receipts; and a batch on PostgreSQL leaves what one by one on SQLite leaves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pytest
from central_testkit import DEMO_REGISTRY, TOPICS, Recorder, make_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from alarmlink.wire import Event, Heartbeat, Status, encode, utcnow
from central.db import open_db
from central.db.pg_store import PgDatabase
from central.ingest import Ingestor
from central.ingest_bulk import scan_ids
from central.ingest_queue import Delivery
from central.registry import load_registry
from central.snapshots import SnapshotFiles

NOW = utcnow()
VENUE_ZONES = {"school-01": ["gate-button", "dormitory-smoke"],
               "hotel-01": ["reception-button", "corridor-smoke"]}

STATE = [
    "SELECT event_id, device_id, seq, kind, state, zone, incident_id, deliveries, test "
    "FROM events ORDER BY event_id",
    "SELECT id, category, venue_id, status, kinds, zones, first_event_id, event_count, "
    "version FROM incidents ORDER BY id",
    "SELECT incident_id, actor, action, detail FROM incident_log ORDER BY incident_id, id",
    "SELECT topic, device_id, reason FROM dead_letters ORDER BY id",
    "SELECT device_id, availability FROM device_state ORDER BY device_id",
]


def _events() -> st.SearchStrategy[Event]:
    def build(device: str, zone: int, kind: str, state: str, test: bool) -> Event:
        return make_event(device, kind=kind, state=state, zone=VENUE_ZONES[device][zone],
                          test=test)
    return st.builds(build, st.sampled_from(sorted(VENUE_ZONES)), st.integers(0, 1),
                     st.sampled_from(["fire", "panic", "trouble", "smoke"]),
                     st.sampled_from(["alarm", "alarm", "restore", "trouble"]),
                     st.booleans())


def _script(events: list[Event], picks: list[tuple[int, int]]) -> list[tuple[str, bytes]]:
    """Messages: each event once, some repeated (resends), statuses and heartbeats between,
    one event repeated from another device (refused) and a malformed one."""
    out: list[tuple[str, bytes]] = []
    for event in events:
        out.append((TOPICS.event(event.device_id), encode(event)))
    for what, at in picks:
        at %= len(out) + 1
        if what == 0 and events:  # a resend of an earlier event
            event = events[at % len(events)]
            out.insert(at, (TOPICS.event(event.device_id), encode(event)))
        elif what == 1:
            out.insert(at, (TOPICS.status("school-01"),
                            encode(Status(state="online", ts=NOW))))
        elif what == 2:
            out.insert(at, (TOPICS.heartbeat("hotel-01"),
                            encode(Heartbeat(ts=NOW, uptime_s=1.0, outbox_depth=0))))
        elif what == 3 and events:  # the same event_id from the other device
            event = events[at % len(events)]
            other = "hotel-01" if event.device_id == "school-01" else "school-01"
            stolen = event.model_copy(update={"device_id": other})
            out.insert(at, (TOPICS.event(other), encode(stolen)))
        else:
            out.insert(at, (TOPICS.event("school-01"), b'{"v": 1, "event_id": "0'))
    return out


def _fresh(path: Path) -> tuple[Database, Ingestor, Recorder]:
    db = open_db(path)
    load_registry(db, DEMO_REGISTRY)
    recorder = Recorder()

    def clock() -> datetime:
        return NOW

    return db, Ingestor(db, TOPICS, recorder, clock=clock), recorder


def _state(db: Database) -> list[list[tuple[object, ...]]]:
    return [[tuple(row) for row in db.execute(sql).fetchall()] for sql in STATE]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(events=st.lists(_events(), min_size=1, max_size=12),
       picks=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 100)), max_size=10),
       split=st.integers(0, 30))
def test_a_batch_leaves_what_one_by_one_leaves(
        tmp_path_factory: pytest.TempPathFactory, events: list[Event],
        picks: list[tuple[int, int]], split: int) -> None:
    work = tmp_path_factory.mktemp("bulk")
    script = _script(events, picks)
    one_db, one, one_sent = _fresh(work / "one.db")
    for topic, payload in script:
        one.handle(topic, payload)
    batch_db, batch, batch_sent = _fresh(work / "batch.db")
    split %= len(script) + 1  # two batches: the second finds the first's rows stored
    batch.handle_batch([Delivery(t, p) for t, p in script[:split]])
    batch.handle_batch([Delivery(t, p) for t, p in script[split:]])
    assert _state(batch_db) == _state(one_db)
    assert sorted(batch_sent.messages) == sorted(one_sent.messages)
    one_db.close()
    batch_db.close()


def test_the_id_scan_only_finds_prefetch_keys_and_misses_nothing_it_must_not() -> None:
    event = make_event("school-01")
    assert scan_ids([encode(event), b"garbage", b'{"event_id": "short"}']) == [event.event_id]


@pytest.fixture(scope="module")
def pg_template(request: pytest.FixtureRequest) -> Iterator[tuple[Any, str]]:
    """A migrated PostgreSQL database with the demo registry, copied for each example."""
    server = request.getfixturevalue("postgres_server")
    name = server.migrated_database()
    db = PgDatabase.connect(server.url(name))
    load_registry(cast(Database, db), DEMO_REGISTRY)
    db.close()
    yield server, name
    server.drop_database(name)


@pytest.mark.postgres
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(events=st.lists(_events(), min_size=1, max_size=12),
       picks=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 100)), max_size=10),
       split=st.integers(0, 30))
def test_a_batch_on_postgresql_leaves_what_one_by_one_on_sqlite_leaves(
        tmp_path_factory: pytest.TempPathFactory, pg_template: tuple[Any, str],
        events: list[Event], picks: list[tuple[int, int]], split: int) -> None:
    """The same ingest code on both backends: the same rows, the same receipts."""
    import psycopg

    server, template = pg_template
    work = tmp_path_factory.mktemp("bulk-pg")
    script = _script(events, picks)
    one_db, one, one_sent = _fresh(work / "one.db")
    for topic, payload in script:
        one.handle(topic, payload)
    name = f"{template}_x"
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'.encode())
    try:
        pg = cast(Database, PgDatabase.connect(server.url(name)))
        sent = Recorder()
        batch = Ingestor(pg, TOPICS, sent, clock=lambda: NOW,
                         snapshot_files=SnapshotFiles(work / "snapshots"))
        split %= len(script) + 1
        batch.handle_batch([Delivery(t, p) for t, p in script[:split]])
        batch.handle_batch([Delivery(t, p) for t, p in script[split:]])
        assert _state(pg) == _state(one_db)
        assert sorted(sent.messages) == sorted(one_sent.messages)
        pg.close()
    finally:
        server.drop_database(name)
        one_db.close()
