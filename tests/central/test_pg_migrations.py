"""One migration source for both backends: every migration of central's SQLite schema
applied to a fresh PostgreSQL database gives the same tables and columns, the same
migration names, and the constraints that matter (unique event_id, one open incident per
venue, case-insensitive user names, the widened roles of m015)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central.db import open_db
from central.db.pg_dialect import UntranslatableSql, qmark_to_pyformat, translate
from central.db.pg_migrate import (
    PgError,
    applied,
    apply,
    connect,
    migration_names,
    pending,
    redact,
)

pytestmark = pytest.mark.postgres



@pytest.fixture
def pg_url(pg_empty_url: str) -> str:
    """This module starts from an empty database (not the suite's migrated copy)."""
    return pg_empty_url

def sqlite_columns(path: Path) -> dict[str, set[str]]:
    db = open_db(path)
    tables = [r["name"] for r in db.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != '_sqlite_migrations'")]
    out = {t: {c.name for c in db[t].columns} for t in tables}
    db.close()
    return out


def pg_columns(conn: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name != 'alarmlink_migrations'"):
        out.setdefault(table, set()).add(column)
    return out


def test_all_migrations_give_postgresql_the_same_tables_and_columns_as_sqlite(
        tmp_path: Path, pg_url: str) -> None:
    conn = connect(pg_url)
    assert pending(conn) == migration_names()
    assert apply(conn) == migration_names()
    assert applied(conn) == migration_names() and pending(conn) == []
    assert apply(conn) == []  # a second run applies nothing

    sqlite = sqlite_columns(tmp_path / "central.db")
    assert len(sqlite) > 40
    assert pg_columns(conn) == sqlite
    # the same named indexes (unique and partial ones carry rules: one open incident...)
    db = open_db(tmp_path / "central.db")
    sqlite_indexes = {r["name"] for r in db.query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name != '_sqlite_migrations'")}
    pg_indexes = {r[0] for r in conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert sqlite_indexes and sqlite_indexes <= pg_indexes
    # the same migration names as sqlite-utils records
    names = [r["name"] for r in db.query("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
    assert names == applied(conn)


def test_postgresql_schema_keeps_sqlites_constraints(pg_url: str) -> None:
    import psycopg

    conn = connect(pg_url)
    apply(conn)
    conn.execute("INSERT INTO counties (id, name) VALUES ('c', 'C')")
    conn.execute("INSERT INTO stations (id, name, county_id) VALUES ('s', 'S', 'c')")
    conn.execute("INSERT INTO venues (id, name, kind, station_id) VALUES ('v', 'V', 'school', 's')")
    incident = ("INSERT INTO incidents (category, venue_id, station_id, status, kind, "
                "first_event_id, opened_at, updated_at, last_event_at) VALUES "
                "('alarm', 'v', 's', 'new', 'panic', 'e1', 't', 't', 't') RETURNING id")
    row = conn.execute(incident).fetchone()
    assert row is not None and row[0] == 1  # identity assigns ids as SQLite's rowid does
    with pytest.raises(psycopg.errors.UniqueViolation):  # one open incident per venue
        conn.execute(incident)
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO venues (id, name, kind, station_id) "
                     "VALUES ('w', 'W', 'castle', 's')")
    user = ("INSERT INTO users (username, role, node_kind, password_hash, created_at, "
            "created_by, password_changed_at) VALUES (%s, %s, 'venue', 'h', 't', 't', 't')")
    conn.execute(user, ["Admin", "venue_manager"])  # m015's roles and node kinds
    with pytest.raises(psycopg.errors.UniqueViolation):  # COLLATE NOCASE
        conn.execute(user, ["admin", "inspector"])
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(user, ["other", "janitor"])
    conn.execute("INSERT INTO devices (id, venue_id) VALUES ('d', 'v')")
    event = ("INSERT INTO events (event_id, device_id, venue_id, seq, ts, received_at, delay_s,"
             " kind, state, zone, source) VALUES ('e1', 'd', 'v', 1, 't', 't', 0.5, 'panic', "
             "'alarm', 'z', 'gpio') ON CONFLICT (event_id) DO NOTHING")
    assert conn.execute(event).rowcount == 1
    assert conn.execute(event).rowcount == 0  # event_id unique


def test_m007_strftime_gives_sqlites_text_on_postgresql(pg_url: str) -> None:
    conn = connect(pg_url)
    apply(conn)
    row = conn.execute("SELECT strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', %s, '+4 hours')",
                       ["2026-03-02T22:15:07.250Z"]).fetchone()
    assert row is not None and row[0] == "2026-03-03T02:15:07.250Z"


def test_a_migration_that_fails_is_rolled_back_and_named(pg_url: str) -> None:
    conn = connect(pg_url)
    conn.execute("CREATE TABLE counties (id TEXT)")  # in the way of m001
    with pytest.raises(PgError, match="m001_initial failed on PostgreSQL"):
        apply(conn)
    assert applied(conn) == []
    assert conn.execute("SELECT to_regclass('stations')").fetchone() == (None,)


def test_connect_failure_is_one_line_without_the_password() -> None:
    from alarmlink.broker import free_port

    with pytest.raises(PgError) as caught:
        connect(f"postgresql://u:sekrit@127.0.0.1:{free_port()}/x")
    message = str(caught.value)
    assert "\n" not in message and "sekrit" not in message
    assert message.startswith("cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1")
    assert redact("postgresql://h/db?sslmode=require&password=sekrit&x=1") == \
        "postgresql://h/db?sslmode=require&password=***&x=1"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


@pytest.mark.parametrize(("sqlite", "postgres"), [
    ("id INTEGER PRIMARY KEY,", "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"),
    ("id integer primary key autoincrement", "id BIGINT GENERATED BY DEFAULT AS IDENTITY "
                                             "PRIMARY KEY"),
    ("n INTEGER NOT NULL, x REAL, b BLOB", "n BIGINT NOT NULL, x DOUBLE PRECISION, b BYTEA"),
    ("u TEXT UNIQUE COLLATE NOCASE", "u TEXT UNIQUE COLLATE nocase"),
    ("k TEXT DEFAULT 'INTEGER REAL BLOB'", "k TEXT DEFAULT 'INTEGER REAL BLOB'"),
    ("realm TEXT, blobs INTEGER", "realm TEXT, blobs BIGINT"),
])
def test_translate(sqlite: str, postgres: str) -> None:
    assert translate(sqlite) == postgres


@pytest.mark.parametrize("sql", ["PRAGMA foreign_keys=OFF",
                                 "SELECT sql FROM sqlite_master WHERE name = 'users'",
                                 "VACUUM", "x TEXT DEFAULT 'unbalanced"])
def test_sqlite_only_statements_are_refused(sql: str) -> None:
    with pytest.raises(UntranslatableSql):
        translate(sql)


def test_placeholders() -> None:
    assert qmark_to_pyformat("a = ? AND b LIKE '%?%' AND c = ?") == \
        "a = %s AND b LIKE '%%?%%' AND c = %s"


@given(st.text())
def test_translate_never_crashes_and_keeps_quoted_text(text: str) -> None:
    try:
        out = translate(text)
    except UntranslatableSql:
        return
    assert out.count("'") == text.count("'")
    assert [p for p in out.split("'")[1::2]] == [p for p in text.split("'")[1::2]]
