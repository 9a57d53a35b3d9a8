"""central/db/pg_store.py: SQLite statements of ingest on PostgreSQL, and concurrent workers."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import cast

import pytest
from central_testkit import DEMO_REGISTRY, TOPICS, Recorder, event_message, make_event
from hypothesis import given
from hypothesis import strategies as st
from sqlite_utils import Database

from alarmlink_tools.cli import main
from central.db.pg_store import PgDatabase, translate_dml
from central.ingest import Ingestor
from central.ingest_queue import Delivery
from central.registry import load_registry
from central.snapshots import SnapshotFiles


@pytest.mark.parametrize(("sqlite", "postgresql"), [
    ("BEGIN IMMEDIATE", "BEGIN"),
    ("PRAGMA synchronous=NORMAL", "SET synchronous_commit TO off"),
    ("PRAGMA synchronous=FULL", "SET synchronous_commit TO on"),
    ("DELETE FROM d WHERE device_id IS ? AND x IS NOT ?",
     "DELETE FROM d WHERE device_id IS NOT DISTINCT FROM %s AND x IS DISTINCT FROM %s"),
    ("UPDATE c SET a = ? WHERE (? IS NULL OR b = ?)",
     "UPDATE c SET a = %s WHERE (%s::text IS NULL OR b = %s)"),
    ("INSERT INTO t (k, n) VALUES (?, 1) ON CONFLICT (k) DO UPDATE SET n = n + 1, "
     "m = excluded.m, w = 'n = n'",
     "INSERT INTO t (k, n) VALUES (%s, 1) ON CONFLICT (k) DO UPDATE SET n = t.n + 1, "
     "m = excluded.m, w = 'n = n'"),
    ("SELECT a FROM t WHERE s IN () AND b NOT IN ( ) AND c = 'IN ()'",
     "SELECT a FROM t WHERE s = ANY('{}') AND b <> ALL('{}') AND c = 'IN ()'"),
])
def test_statements_are_translated(sqlite: str, postgresql: str) -> None:
    assert translate_dml(sqlite, "?" in sqlite) == postgresql


def test_other_pragmas_are_refused() -> None:
    with pytest.raises(Exception, match="SQLite-only"):
        translate_dml("PRAGMA database_list", False)


@given(st.text(alphabet=st.sampled_from(list("ab ?'%=IS NULL")), max_size=60))
def test_placeholders_outside_quotes_all_become_pyformat(sql: str) -> None:
    if sql.count("'") % 2 or sql.strip().upper().startswith(("PRAGMA", "BEGIN")):
        return
    out = translate_dml(sql, True)
    quoted = r"'(?:[^']|'')*'"
    out_plain = "".join(re.split(quoted, out)).replace("%%", "")
    assert "?" not in out_plain
    assert out_plain.count("%s") == "".join(re.split(quoted, sql)).count("?")
    assert re.findall(quoted, out) == [q.replace("%", "%%") for q in re.findall(quoted, sql)]


@pytest.mark.postgres
def test_two_workers_on_one_venue_store_a_repeated_event_once(
        pg_url: str, tmp_path: Path) -> None:
    """The same events reach two workers at once (a resend while the first copy is still
    being stored): the venue lock makes the duplicate check and the insert one step."""
    setup = PgDatabase.connect(pg_url)
    load_registry(cast(Database, setup), DEMO_REGISTRY)
    setup.close()
    events = [make_event(zone="dorm-2f-smoke", seq=n) for n in range(40)]
    batch = [Delivery(*event_message(e)) for e in events]
    recorders = [Recorder(), Recorder()]
    start = threading.Barrier(2)

    def worker(recorder: Recorder) -> None:
        db = PgDatabase.connect(pg_url, migrate=False)
        try:
            ingestor = Ingestor(cast(Database, db), TOPICS, recorder,
                                snapshot_files=SnapshotFiles(tmp_path / "s"))
            start.wait()
            ingestor.handle_batch(list(batch))
        finally:
            db.close()

    threads = [threading.Thread(target=worker, args=(r,)) for r in recorders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check = PgDatabase.connect(pg_url, migrate=False)
    try:
        assert next(iter(check.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d, "
                                     "sum(deliveries) AS s FROM events"))) == {
            "n": 40, "d": 40, "s": 80}
        assert [r["n"] for r in check.query("SELECT count(*) AS n FROM incidents")] == [1]
        assert [r["n"] for r in check.query("SELECT count(*) AS n FROM dead_letters")] == [0]
    finally:
        check.close()
    for recorder in recorders:  # each copy was answered "stored"
        assert {r.event_id for r in recorder.receipts()} == {e.event_id for e in events}


def test_a_worker_config_error_is_one_line(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "worker.toml"
    config.write_text('database_url = "central.db"\n[broker]\nurl = "mqtt://127.0.0.1:1"\n'
                      'username = "ingest-1"\n', encoding="utf-8")
    assert main(["central", "ingest-worker", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "database_url" in err and "postgresql://" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_an_unreachable_database_is_one_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from alarmlink.broker import free_port

    config = tmp_path / "worker.toml"
    config.write_text(f'database_url = "postgresql://x@127.0.0.1:{free_port()}/db"\n'
                      '[broker]\nurl = "mqtt://127.0.0.1:1"\nusername = "ingest-1"\n',
                      encoding="utf-8")
    assert main(["central", "ingest-worker", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot connect to PostgreSQL" in err and len(err.splitlines()) == 1


def test_the_documented_worker_config_is_valid() -> None:
    import tomllib

    from central.ingest_worker import IngestWorkerConfig

    text = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(
        encoding="utf-8")
    section = text[text.index("### Ingest workers on PostgreSQL"):]
    block = section[section.index("```toml\n") + 8:]
    block = block[:block.index("```")]
    config = IngestWorkerConfig.model_validate(tomllib.loads(block))
    assert config.broker.username == "ingest-1" and config.share_group == "ingest"


@pytest.mark.postgres
def test_readers_share_checked_read_only_sessions_that_survive_a_lost_connection(
        pg_url: str) -> None:
    """The API's reads on PostgreSQL (central/db/readers.py): read-only pooled sessions;
    after the database dropped them every read still answers (the pool checks a session
    before handing it out and replaces the broken ones)."""
    import asyncio
    import sqlite3

    import psycopg

    from central.db import Readers, query_one

    PgDatabase.connect(pg_url).close()  # migrated
    readers = Readers(pg_url)

    def one(db: Database) -> int:
        row = query_one(db, "SELECT count(*) AS n FROM counties")
        return -1 if row is None else int(row["n"])

    def write(db: Database) -> None:
        db.execute("INSERT INTO counties (id, name) VALUES ('c', 'C')")

    async def reads(n: int) -> list[int]:
        return [await readers.run(one) for _ in range(n)]

    try:
        assert asyncio.run(reads(4)) == [0] * 4
        with pytest.raises(sqlite3.Error, match="read-only"):
            asyncio.run(readers.run(write))
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
        assert killed == (2,)  # the two readers' sessions
        assert asyncio.run(reads(4)) == [0] * 4
    finally:
        readers.close()
