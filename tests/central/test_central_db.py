"""Database: real file, WAL, FULL sync, foreign keys, idempotent migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from central.db import iso, migrations, open_db, parse_iso, write_tx

TABLES = {"counties", "stations", "venues", "devices", "events", "incidents", "incident_log",
          "dead_letters", "device_state", "command_results", "snapshots"}


def test_fresh_database_has_every_table_and_settings(db_path: Path) -> None:
    db = open_db(db_path)
    assert TABLES <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db_path.exists()


def test_migrations_are_idempotent(db_path: Path) -> None:
    first = open_db(db_path)
    applied = [m.name for m in migrations.applied(first)]
    first.close()
    second = open_db(db_path)
    assert [m.name for m in migrations.applied(second)] == applied
    assert migrations.pending(second) == []
    assert applied and applied[0] == "m001_initial"


def test_foreign_keys_are_enforced(db_path: Path) -> None:
    db = open_db(db_path)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO stations (id, name, county_id) VALUES ('s', 'S', 'nowhere')")


def test_write_tx_rolls_back_on_error(db_path: Path) -> None:
    db = open_db(db_path)
    with pytest.raises(RuntimeError), write_tx(db):
        db.execute("INSERT INTO counties (id, name) VALUES ('c', 'C')")
        raise RuntimeError("boom")
    assert db.execute("SELECT count(*) FROM counties").fetchone()[0] == 0
    with write_tx(db):
        db.execute("INSERT INTO counties (id, name) VALUES ('c', 'C')")
    other = sqlite3.connect(db_path)
    assert other.execute("SELECT count(*) FROM counties").fetchone()[0] == 1


def test_timestamps_are_fixed_width_utc() -> None:
    moment = parse_iso("2026-11-28T17:00:00.5+08:00")
    assert iso(moment) == "2026-11-28T09:00:00.500Z"
    assert parse_iso(iso(moment)) == moment
