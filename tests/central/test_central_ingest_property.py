"""Property: whatever arrives, handle() never raises and the message ends up
stored or dead-lettered (on SQLite and on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from both_backends import BACKENDS
from central_testkit import DEMO_REGISTRY, TOPICS, Recorder, make_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from alarmlink.wire import Heartbeat, Status, encode, utcnow
from central.db import open_db
from central.db.pg_store import PgDatabase
from central.ingest import Ingestor
from central.registry import load_registry
from central.snapshots import SnapshotFiles

DEVICES = ["school-01", "hotel-01", "ghost-01"]
CHANNELS = ["event", "status", "heartbeat", "cmd/result", "receipt", "cmd", "nonsense"]


class TickingClock:
    """Advances a millisecond per reading, so every accepted message leaves a new stamp."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture(scope="module", params=BACKENDS)
def shared(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
           ) -> Iterator[tuple[Database, Ingestor]]:
    work: Path = tmp_path_factory.mktemp("prop")
    name = None
    if request.param == "sqlite":
        db = open_db(work / "central.db")
    else:  # a database of this module's own on the suite's private PostgreSQL
        server = request.getfixturevalue("postgres_server")
        name = server.migrated_database()
        db = cast(Database, PgDatabase.connect(server.url(name)))
    load_registry(db, DEMO_REGISTRY)
    yield db, Ingestor(db, TOPICS, Recorder(), clock=TickingClock(),
                       snapshot_files=SnapshotFiles(work / "snapshots"))
    db.close()
    if name is not None:
        server.drop_database(name)


STATE_SQL = """SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM dead_letters),
    (SELECT coalesce(max(last_seen), '') FROM device_state),
    (SELECT count(*) FROM command_results), (SELECT count(*) FROM snapshots),
    (SELECT coalesce(sum(received), 0) FROM dead_letter_counts)"""


valid_events = st.builds(lambda zone, kind, state, test: encode(make_event(
    zone=zone, kind=kind, state=state, test=test)),
    st.sampled_from(["gate-button", "dorm-2f-smoke", "x"]),
    st.sampled_from(["fire", "smoke", "panic", "trouble", "test"]),
    st.sampled_from(["alarm", "restore", "trouble"]), st.booleans())
payloads = st.one_of(st.binary(max_size=300), valid_events,
                     st.text(max_size=200).map(str.encode),
                     valid_events.map(lambda b: b.replace(b'"v":1', b'"v":"1"')))
topics = st.one_of(
    st.builds(lambda d, c: f"{TOPICS.prefix}/dev/{d}/{c}", st.sampled_from(DEVICES),
              st.sampled_from(CHANNELS)),
    st.text(max_size=80))
status = st.builds(lambda state: encode(Status(state=state, ts=utcnow())),
                   st.sampled_from(["online", "offline", "stopped"]))
heartbeat = st.builds(lambda depth: encode(Heartbeat(ts=utcnow(), uptime_s=1.0,
                                                     outbox_depth=depth)),
                      st.integers(0, 10_000))


def _flip(data: bytes, index: int, value: int) -> bytes:
    index %= len(data)
    return data[:index] + bytes([value]) + data[index + 1:]


corrupted = st.builds(_flip, valid_events, st.integers(0, 10_000), st.integers(0, 255))
messages = st.one_of(
    st.tuples(topics, payloads),
    st.tuples(st.just(TOPICS.event("school-01")), st.one_of(valid_events, corrupted)),
    st.tuples(st.just(TOPICS.status("school-01")), status),
    st.tuples(st.just(TOPICS.heartbeat("school-01")), heartbeat),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=messages)
def test_anything_ends_stored_or_dead_lettered(
        shared: tuple[Database, Ingestor], message: tuple[str, bytes]) -> None:
    db, ingestor = shared
    topic, payload = message
    events, dead, seen, results, snaps, refused = db.execute(STATE_SQL).fetchone()
    ingestor.handle(topic, payload)  # must not raise
    events2, dead2, seen2, results2, snaps2, refused2 = db.execute(STATE_SQL).fetchone()
    # a refused message is always counted, and kept unless its device is over the
    # dead-letter budget (central/dead_letters.py): never silently dropped
    dead_lettered = refused2 == refused + 1
    assert dead2 - dead == (1 if dead_lettered else 0) or (dead_lettered and dead2 == dead)
    accepted = (events2 == events + 1 or seen2 != seen or results2 == results + 1
                or snaps2 == snaps + 1)
    assert dead_lettered != accepted, "exactly one of stored / dead-lettered"
    assert dead2 - dead <= 1 and events2 - events <= 1
