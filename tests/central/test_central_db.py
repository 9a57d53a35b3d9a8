"""Database: every table, foreign keys, idempotent migrations and the write transaction on
both backends; SQLite's own settings (a real file, WAL, FULL sync) on SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import both_backends
import pytest
from both_backends import committed
from sqlite_utils import Database

from central.db import iso, migrations, open_db, parse_iso, pg_migrate, write_tx
from central.db.backend import open_database

backend, db_target = both_backends.backend, both_backends.db_target

TABLES = {"counties", "stations", "venues", "devices", "events", "incidents", "incident_log",
          "dead_letters", "device_state", "command_results", "snapshots"}


def table_names(db: Database, backend: str) -> set[str]:
    sql = ("SELECT name FROM sqlite_master WHERE type = 'table'" if backend == "sqlite" else
           "SELECT table_name AS name FROM information_schema.tables "
           "WHERE table_schema = 'public'")
    return {row["name"] for row in db.query(sql)}


def applied(db: Database, backend: str) -> list[str]:
    if backend == "sqlite":
        return [m.name for m in migrations.applied(db)]
    return pg_migrate.applied(db.conn.raw)  # type: ignore[attr-defined]


def test_fresh_database_has_every_table(db_target: Path | str, backend: str) -> None:
    db = open_database(db_target)
    assert TABLES <= table_names(db, backend)
    db.close()


def test_sqlite_file_is_wal_full_sync_with_foreign_keys(db_path: Path) -> None:
    """SQLite only: its journal, sync and foreign-key settings are per connection."""
    db = open_db(db_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db_path.exists()


def test_migrations_are_idempotent(db_target: Path | str, backend: str) -> None:
    first = open_database(db_target)
    names = applied(first, backend)
    first.close()
    second = open_database(db_target)
    assert applied(second, backend) == names
    if backend == "sqlite":
        assert migrations.pending(second) == []
    else:
        assert pg_migrate.pending(second.conn.raw) == []  # type: ignore[attr-defined]
    assert names and names[0] == "m001_initial"
    second.close()


def test_foreign_keys_are_enforced(db_target: Path | str) -> None:
    db = open_database(db_target)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO stations (id, name, county_id) VALUES ('s', 'S', 'nowhere')")
    db.close()


def test_write_tx_rolls_back_on_error(db_target: Path | str) -> None:
    db = open_database(db_target)
    with pytest.raises(RuntimeError), write_tx(db):
        db.execute("INSERT INTO counties (id, name) VALUES ('c', 'C')")
        raise RuntimeError("boom")
    assert db.execute("SELECT count(*) FROM counties").fetchone()[0] == 0
    with write_tx(db):
        db.execute("INSERT INTO counties (id, name) VALUES ('c', 'C')")
    assert committed(db_target, "SELECT count(*) FROM counties") == 1
    db.close()


def test_an_empty_in_list_matches_nothing_and_not_in_everything(db_target: Path | str
                                                                 ) -> None:
    """A scope with no stations gives ``IN ()``: SQLite's meaning on PostgreSQL too (it
    refused the statement: a 500 for such a user)."""
    db = open_database(db_target)
    with write_tx(db):
        db.execute("INSERT INTO counties (id, name) VALUES ('c', 'C')")
    assert db.execute("SELECT count(*) FROM counties WHERE id IN ()").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM counties WHERE name NOT IN ()").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM counties WHERE id IN () OR name = ?",
                      ["C"]).fetchone()[0] == 1
    db.close()


def test_timestamps_are_fixed_width_utc() -> None:
    moment = parse_iso("2026-11-28T17:00:00.5+08:00")
    assert iso(moment) == "2026-11-28T09:00:00.500Z"
    assert parse_iso(iso(moment)) == moment


def test_text_with_a_nul_is_stored_and_found_again(db_target: Path | str) -> None:
    """A NUL in a text value (an API query parameter, a form field) is no error on either
    backend: PostgreSQL, whose text cannot hold one, stores U+FFFD in its place."""
    db = open_database(db_target)
    with write_tx(db):
        db.execute("INSERT INTO counties (id, name) VALUES (?, ?)", ["c\x00", "C\x00D"])
    row = db.execute("SELECT name FROM counties WHERE id = ?", ["c\x00"]).fetchone()
    assert row is not None and row[0] in ("C\x00D", "C\ufffdD")
    assert db.execute("SELECT count(*) FROM counties WHERE id = ?",
                      ["nowhere\x00"]).fetchone()[0] == 0
    db.close()
