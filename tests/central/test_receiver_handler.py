"""The DC-09 handler in process (real SQLite file, real ingest): any message counts as
heard for supervision; an unknown account is NAKed every time, dead-lettered as a sample."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import both_backends
from central_testkit import TOPICS, Recorder
from sqlite_utils import Database

from alarmlink.codecs import sia_dc09
from central.ingest import Ingestor
from central.receiver.accounts import AccountMap
from central.receiver.handler import Dc09Handler
from central.receiver.sampling import Sampler
from central.snapshots import SnapshotFiles

# every storage test here runs on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend, db, ingestor = both_backends.backend, both_backends.db, both_backends.ingestor

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


class Clocks:
    def __init__(self) -> None:
        self.now = NOW
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


def make_handler(db: Database, clocks: Clocks | None = None, *,
                 snapshots: Path | None = None) -> Dc09Handler:
    async def load() -> dict[str, str]:
        return {"1234": "school-01"}

    c = clocks or Clocks()
    files = None if snapshots is None else SnapshotFiles(snapshots)
    ingestor = Ingestor(db, TOPICS, Recorder(), clock=lambda: c.now, snapshot_files=files)
    return Dc09Handler(ingestor, TOPICS, AccountMap(load), lambda: c.now, lambda: c.mono)


def handle(handler: Dc09Handler, account: str, data: str, seq: int = 1,
           id: str = "SIA-DCS") -> bytes | None:
    now = handler.clock()
    raw = sia_dc09.encode_message(seq=seq, account=account, data=data, id=id, timestamp=now)
    (result,) = sia_dc09.SiaDc09Decoder(clock=lambda: now).feed(raw)
    return asyncio.run(handler.handle(result, "tcp", "192.0.2.7:4000"))


def last_seen(db: Database) -> str | None:
    row = db.execute("SELECT last_seen FROM device_state WHERE device_id = 'school-01'"
                     ).fetchone()
    return row[0] if row else None


def test_an_alarm_counts_as_heard_like_a_link_test(db: Database, tmp_path: Path) -> None:
    clocks = Clocks()
    handler = make_handler(db, clocks, snapshots=tmp_path)
    assert last_seen(db) is None
    reply = handle(handler, "1234", "#1234|NFA129")
    assert reply is not None and b'"ACK"' in reply
    assert (last_seen(db) or "").startswith("2024-05-06T07:08:09")
    assert db.execute("SELECT availability FROM device_state").fetchone()[0] == "online"
    clocks.advance(0.5)  # a burst: "heard" is stored at most once a second per device
    handle(handler, "1234", "#1234|NFR129", seq=2)
    assert (last_seen(db) or "").startswith("2024-05-06T07:08:09")
    clocks.advance(5)
    handle(handler, "1234", "#1234|NBA3", seq=3)
    assert (last_seen(db) or "").startswith("2024-05-06T07:08:14")
    clocks.advance(0.1)
    handle(handler, "1234", "", seq=4, id="NULL")  # a link test is always recorded
    assert (last_seen(db) or "").startswith("2024-05-06T07:08:14.6")
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 3


def test_unknown_account_is_always_nakked_but_dead_lettered_as_a_sample(
        db: Database, tmp_path: Path) -> None:
    handler = make_handler(db, snapshots=tmp_path)
    replies = [handle(handler, "9999", f"#9999|NFA{n}", seq=n + 1) for n in range(50)]
    assert all(r is not None and b'"NAK"' in r for r in replies)
    reasons = [r[0] for r in db.execute("SELECT reason FROM dead_letters")]
    assert len(reasons) == 1 and "unknown account 9999" in reasons[0]
    assert handler.unknown.suppressed == 49 and handler.refused == 50
    handle(handler, "8888", "#8888|NFA1")  # another account has its own sample
    assert db.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_sampler_counts_what_it_suppressed_and_bounds_its_memory() -> None:
    now = [0.0]
    sampler = Sampler(sample_s=60, max_keys=3, monotonic=lambda: now[0])
    assert sampler.admit("A") == 0
    assert [sampler.admit("A") for _ in range(5)] == [None] * 5
    now[0] = 61.0
    assert sampler.admit("A") == 5  # the next sample says how many were skipped
    assert sampler.admit("B") == 0 and sampler.admit("C") == 0
    assert sampler.admit("D") == 0  # the 4th key: the shared overflow slot
    assert sampler.admit("E") is None  # ... which is then sampled like one account
    assert len(sampler._last) == 3 + 1 and sampler.suppressed == 6  # + the overflow slot
    now[0] = 61.0 + timedelta(minutes=2).total_seconds()
    assert sampler.admit("F") == 0  # quiet keys are forgotten: room again
