"""The audit chain: any change, deletion or insertion is found and named; prune is not."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import both_backends
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from central import audit
from central.audit import Entry
from central.audit_retention import AuditBroken, prune
from central.db import open_db, write_tx

# every storage test here runs on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend, db, ingestor = both_backends.backend, both_backends.db, both_backends.ingestor

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
ROWS = 8
#: the columns a hand edit may change (the id is the row's name)
EDITABLE = [c for c in audit.COLUMNS if c != "id"]


def _entry(i: int) -> Entry:
    return Entry(username=f"officer-{i}", role="duty_officer", source="10.0.0.7",
                 action="incident.acknowledge", object=f"incident:{i}",
                 result="allowed" if i % 3 else "denied", detail={"note": f"第{i}次 处置"})


def _fill(db: Database, n: int = ROWS, *, start: datetime = T0,
          step: timedelta = timedelta(days=1)) -> list[int]:
    return [audit.append(db, _entry(i), at=start + i * step) for i in range(n)]


def _hand(db_path: Path | Database, sql: str, params: tuple[object, ...] = ()) -> None:
    """A change made behind central's back: a plain sqlite3 connection to the file, or a
    bare statement on the test's database (either backend)."""
    if not isinstance(db_path, Path):
        with write_tx(db_path):
            db_path.execute(sql, list(params))
        return
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(sql, params)
    conn.close()


def test_empty_log_verifies(db: Database) -> None:
    result = audit.verify(db)
    assert result.ok and result.rows == 0


def test_appended_rows_verify(db: Database) -> None:
    ids = _fill(db)
    result = audit.verify(db)
    assert result.ok, result.problem
    assert (result.rows, result.first_id, result.last_id) == (ROWS, ids[0], ids[-1])


@settings(max_examples=60, deadline=None)
@given(row=st.integers(0, ROWS - 1), column=st.sampled_from(EDITABLE),
       value=st.text(min_size=1, max_size=80))
def test_changing_any_field_of_any_row_names_that_row(row: int, column: str,
                                                      value: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "central.db"
        db = open_db(path)
        ids = _fill(db)
        target = ids[row]
        old = db.execute(f"SELECT {column} FROM audit_log WHERE id = ?", [target]).fetchone()[0]
        if column == "result":  # a CHECK allows only the other value
            value = "denied" if old == "allowed" else "allowed"
        if value == old:
            value = old + "x"
        _hand(path, f"UPDATE audit_log SET {column} = ? WHERE id = ?", (value, target))
        result = audit.verify(db)
        db.close()
    assert not result.ok, f"changing {column} of row {target} went unnoticed"
    assert result.broken_id == target, result.problem
    assert result.problem.startswith(f"row {target}: ")


def test_a_changed_field_is_reported_as_such(db: Database, db_path: Path) -> None:
    ids = _fill(db)
    _hand(db, "UPDATE audit_log SET username = 'someone-else' WHERE id = ?", (ids[3],))
    assert audit.verify(db).problem == (f"row {ids[3]}: its fields do not match its hash "
                                        "(changed after it was written)")


def test_deleting_a_middle_row_names_the_next_row(db: Database, db_path: Path) -> None:
    ids = _fill(db)
    _hand(db, "DELETE FROM audit_log WHERE id = ?", (ids[4],))
    result = audit.verify(db)
    assert not result.ok and result.broken_id == ids[5]
    assert result.problem == (f"row {ids[5]}: prev_hash does not match row {ids[3]}'s hash "
                              "(a row was removed or inserted before it)")


def test_a_row_inserted_with_a_forged_hash_is_found(db: Database, db_path: Path) -> None:
    ids = _fill(db)
    _hand(db, "DELETE FROM audit_log WHERE id = ?", (ids[4],))
    # a replacement that chains correctly onto row 3 but says something else
    forged = {"at": audit.iso(T0), "username": "officer-x", "role": "admin", "source": "x",
              "action": "incident.resolve", "object": "incident:4", "result": "allowed",
              "detail": "{}"}
    prev = db.execute("SELECT hash FROM audit_log WHERE id = ?", [ids[3]]).fetchone()[0]
    _hand(db, "INSERT INTO audit_log (id, at, username, role, source, action, object, "
          "result, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          (ids[4], *forged.values(), prev, audit.row_hash(prev, forged)))
    result = audit.verify(db)
    assert not result.ok and result.broken_id == ids[5], result.problem


def test_a_row_appended_with_a_made_up_hash_is_named(db: Database, db_path: Path) -> None:
    ids = _fill(db)
    _hand(db, "INSERT INTO audit_log (at, username, role, source, action, object, result,"
          " detail, prev_hash, hash) SELECT at, 'officer-x', role, source, action, object, "
          "result, detail, hash, ? FROM audit_log WHERE id = ?", ("f" * 64, ids[-1]))
    result = audit.verify(db)
    assert not result.ok and result.broken_id == ids[-1] + 1
    assert "its fields do not match its hash" in result.problem


def test_prune_then_verify_passes(db: Database) -> None:
    ids = _fill(db)
    now = T0 + timedelta(days=ROWS + 1)
    assert prune(db, T0 + timedelta(days=3), now=now) == 3
    remaining = [r["id"] for r in db.query("SELECT id FROM audit_log ORDER BY id")]
    assert remaining[:-1] == ids[3:]
    last = db.execute("SELECT action, detail FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    assert last[0] == "audit.prune"
    detail = json.loads(last[1])
    assert detail["rows"] == 3 and detail["last_pruned_id"] == ids[2]
    result = audit.verify(db)
    assert result.ok, result.problem
    # more rows, a second prune, and a prune of everything (the old prune row included)
    audit.append(db, _entry(99), at=now)
    assert prune(db, T0 + timedelta(days=6), now=now) == 3
    assert audit.verify(db).ok
    assert prune(db, now + timedelta(days=1), now=now + timedelta(days=1)) > 0
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
    audit.append(db, _entry(100), at=now + timedelta(days=2))
    result = audit.verify(db)
    assert result.ok, result.problem


def test_prune_of_nothing_writes_nothing(db: Database) -> None:
    _fill(db)
    assert prune(db, T0 - timedelta(days=1)) == 0
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == ROWS


def test_deleting_the_oldest_rows_by_hand_fails(db: Database, db_path: Path) -> None:
    ids = _fill(db)
    _hand(db, "DELETE FROM audit_log WHERE id <= ?", (ids[2],))
    result = audit.verify(db)
    assert not result.ok and result.broken_id == ids[3]
    assert "GENESIS" in result.problem and "without audit prune" in result.problem


def test_deleting_by_hand_after_a_prune_fails(db: Database, db_path: Path) -> None:
    ids = _fill(db)
    prune(db, T0 + timedelta(days=2))
    _hand(db, "DELETE FROM audit_log WHERE id = ?", (ids[2],))
    result = audit.verify(db)
    assert not result.ok and result.broken_id == ids[3]
    assert "latest audit.prune" in result.problem


def test_a_broken_chain_is_not_pruned(db: Database, db_path: Path) -> None:
    ids = _fill(db)
    _hand(db, "UPDATE audit_log SET object = 'incident:0' WHERE id = ?", (ids[1],))
    with pytest.raises(AuditBroken, match=f"row {ids[1]}"):
        prune(db, T0 + timedelta(days=5))
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == ROWS


def test_list_entries_filters_and_decodes(db: Database) -> None:
    _fill(db)
    rows = audit.list_entries(db, object="incident:2")
    assert [r["username"] for r in rows] == ["officer-2"]
    assert rows[0]["detail"] == {"note": "第2次 处置"}
    assert len(audit.list_entries(db, username="OFFICER-5")) == 1
    newest = audit.list_entries(db, limit=3)
    assert [r["object"] for r in newest] == ["incident:7", "incident:6", "incident:5"]
    since = audit.list_entries(db, since=T0 + timedelta(days=6))
    assert {r["object"] for r in since} == {"incident:6", "incident:7"}
