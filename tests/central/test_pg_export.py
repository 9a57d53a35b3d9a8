"""Issue 16, line 5: a station's SQLite data copied into PostgreSQL gives the same
incidents, audit chain (still verifying) and scores.

The station is built through the real code paths: events through central's ingest
(incidents, a dead letter with its raw bytes), officers' acts through the API (audited),
a month of inspections, notices and penalties (management_scenario) and scores computed
by the management code. Then ``alarmlink central export --to postgresql://...`` copies it.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import management_scenario
import pytest
from central_testkit import TOPICS, event_message, make_event
from fixtures.central import ALARMLINK
from management_testkit import START, management_central

from central import audit
from central.audit_pg import verify_pg
from central.db import open_db
from central.db.pg_export import export
from central.db.pg_migrate import PgError, connect, migration_names

pytestmark = pytest.mark.postgres
M = "/api/management"


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A station's database, built once for this module's tests (they only read it)."""
    path = tmp_path_factory.mktemp("station") / "central.db"
    with management_central(path) as central:
        service = central.client.app.state.central  # type: ignore[attr-defined]
        for device, kind in (("school-01", "panic"), ("hotel-01", "smoke"),
                             ("school-01", "panic")):
            service.ingestor.handle(*event_message(make_event(device, kind=kind)))
        service.ingestor.handle(TOPICS.event("hotel-01"), b"\x00\xffnot json")  # dead letter
        opened = central.ok("admin-m", "GET", "/api/incidents")
        assert isinstance(opened, list) and len(opened) == 2
        central.ok("admin-m", "POST", f"/api/incidents/{opened[0]['id']}/acknowledge", json={})
        management_scenario.run(
            lambda user, method, path, body: central.ok(user, method, path, json=body), START)
        central.advance(days=40)
        for subject in ("venue", "station"):
            central.ok("admin-m", "POST", f"{M}/scores/compute",
                       json={"subject": subject, "period": "2026-03"})
    return path



@pytest.fixture
def pg_url(pg_empty_url: str) -> str:
    """This module starts from an empty database (not the suite's migrated copy)."""
    return pg_empty_url

def sqlite_rows(path: Path, table: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid')]
    finally:
        conn.close()


def pg_rows(conn: Any, table: str, key: str) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f'SELECT * FROM "{table}" ORDER BY {key}')
        return list(cur)


@pytest.fixture
def exported(station: Path, pg_url: str) -> Iterator[Any]:
    with connect(pg_url) as conn:
        report = export(station, conn)
        conn.report = report  # type: ignore[attr-defined]
        yield conn


def test_export_gives_the_same_incidents_audit_chain_and_scores(
        station: Path, exported: Any) -> None:
    report = exported.report
    for table, key in (("incidents", "id"), ("events", "received_at, event_id"),
                       ("scores", "id"), ("audit_log", "id"), ("dead_letters", "id")):
        before = sqlite_rows(station, table)
        assert before, table  # the station really has such rows
        if table == "events":
            before.sort(key=lambda r: (r["received_at"], r["event_id"]))
        assert pg_rows(exported, table, key) == before, table
        assert report.rows[table] == len(before)
    assert [r["status"] for r in sqlite_rows(station, "incidents")].count("acknowledged") == 1
    assert sqlite_rows(station, "dead_letters")[0]["payload"] == b"\x00\xffnot json"

    source = audit.verify(open_db(station, query_only=True))
    copied = verify_pg(exported)
    assert source.ok and copied.ok and copied.rows == source.rows > 300
    assert copied.last_hash == source.last_hash

    # every table, not only those: the same number of rows
    conn = sqlite3.connect(station)
    for table, rows in report.rows.items():
        assert conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == rows, table
    conn.close()
    assert len(report.rows) > 40

    # identity sequences continue after the copied ids
    top = exported.execute("SELECT max(id) FROM audit_log").fetchone()[0]
    assert report.sequences["audit_log"] == top + 1
    row = exported.execute(
        "INSERT INTO inbound_sms (received_at, sender, text, result) "
        "VALUES ('t', 's', 'x', 'accepted') RETURNING id").fetchone()
    assert row == (1,)
    row = exported.execute(
        "INSERT INTO audit_log (at, username, role, source, action, object, result, "
        "prev_hash, hash) VALUES ('t', 'u', 'r', 's', 'a', 'o', 'allowed', 'p', 'h') "
        "RETURNING id").fetchone()
    assert row == (top + 1,)

def test_a_changed_audit_row_fails_verification_on_postgresql(exported: Any) -> None:
    exported.execute("UPDATE audit_log SET username = 'mallory' WHERE id = 5")
    result = verify_pg(exported)
    assert not result.ok and result.broken_id == 5
    assert "its fields do not match its hash" in result.problem


def test_a_non_empty_target_is_refused_unless_replace(station: Path, exported: Any) -> None:
    with pytest.raises(PgError, match="not empty .* add --replace"):
        export(station, exported)
    exported.execute("DELETE FROM scores")
    again = export(station, exported, replace=True)
    assert again.rows == exported.report.rows
    assert exported.execute("SELECT count(*) FROM scores").fetchone()[0] == again.rows["scores"]


def test_a_failing_copy_leaves_the_target_empty(station: Path, pg_url: str,
                                                tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    with sqlite3.connect(station) as src, sqlite3.connect(broken) as dst:
        src.backup(dst)
    with sqlite3.connect(broken) as db:  # SQLite lets a text column hold NUL; PostgreSQL not
        db.execute("UPDATE incidents SET kind = 'pa' || char(0) || 'nic' WHERE id = "
                   "(SELECT max(id) FROM incidents)")
    with connect(pg_url) as conn:
        with pytest.raises(PgError, match="the copy was rolled back"):
            export(broken, conn)
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (0,)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ALARMLINK, "central", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_migrate_and_export(station: Path, pg_url: str, tmp_path: Path) -> None:
    done = _cli("migrate", "--db", pg_url)
    assert done.returncode == 0, done.stderr
    total = len(migration_names())
    assert done.stdout.startswith(f"applied {total} migration(s) to postgresql://alarmlink@")
    assert f"is up to date ({total} migrations)" in _cli("migrate", "--db", pg_url).stdout
    assert "is up to date" in _cli("migrate", "--db", str(station)).stdout

    done = _cli("export", "--db", str(station), "--to", pg_url)
    assert done.returncode == 0, done.stderr
    assert "PostgreSQL: audit chain intact:" in done.stdout
    assert f"last hash {audit.verify(open_db(station, query_only=True)).last_hash}" in done.stdout

    refused = _cli("export", "--db", str(station), "--to", pg_url)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "not empty" in lines[0] and "--replace" in lines[0]

    missing = _cli("migrate", "--db", str(tmp_path / "nope.db"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "no database at" in missing.stderr and not (tmp_path / "nope.db").exists()


def test_cli_migrate_applies_pending_sqlite_migrations(tmp_path: Path) -> None:
    from sqlite_utils import Database

    from central.db import migrations

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m014_management")
    db.close()
    done = _cli("migrate", "--db", str(path))
    assert done.returncode == 0, done.stderr
    names = [m.name for m in migrations._migrations]
    pending = names[names.index("m014_management"):]
    assert len(pending) >= 2
    assert done.stdout.strip() == (f"applied {len(pending)} migration(s) to {path}: "
                                   + ", ".join(pending))


def test_cli_migrate_reads_the_configs_database_and_export_refuses_an_old_file(
        tmp_path: Path, pg_url: str) -> None:
    from sqlite_utils import Database

    from central.db import migrations

    path = tmp_path / "data" / "central.db"
    path.parent.mkdir()
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m015_management_roles")
    db.close()
    names = [m.name for m in migrations._migrations]
    pending = names[names.index("m015_management_roles"):]
    refused = _cli("export", "--db", str(path), "--to", pg_url)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert f"lacks {len(pending)} migration(s) (first m015_management_roles): run " \
           f"`alarmlink central migrate --db {path}` first" in refused.stderr

    config = tmp_path / "central.toml"
    config.write_text('data_dir = "data"\n')
    done = _cli("migrate", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"applied {len(pending)} migration(s) to {path}: "
                                   + ", ".join(pending))
    done = _cli("export", "--config", str(config), "--to", pg_url)
    assert done.returncode == 0, done.stderr
    assert "PostgreSQL: audit chain intact: 0 rows (empty log)" in done.stdout

    bad = _cli("export", "--db", str(path), "--to", "mysql://x")
    assert bad.returncode == 2 and "is not a PostgreSQL URL" in bad.stderr
