"""``alarmlink central audit ...`` as a real process (``--db`` a SQLite file or a PostgreSQL
URL); the CSV export; ``[audit]`` config."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import both_backends
import pytest
from both_backends import sqlite_only
from fixtures.central import ALARMLINK
from sqlite_utils import Database

from alarmlink.config_base import ConfigError
from central import audit
from central.audit import Entry
from central.audit_retention import BOM, export
from central.config import load_config
from central.db import write_tx
from central.db.backend import open_database

backend, db, db_target = both_backends.backend, both_backends.db, both_backends.db_target

T0 = datetime(2026, 11, 1, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ALARMLINK, "central", "audit", *args], capture_output=True,
                          text=True, encoding="utf-8", timeout=60, check=False)


def _fill(db: Database) -> list[int]:
    return [audit.append(db, Entry(username=f"民警-{i}", role="duty_officer", source="10.1.1.1",
                                   action="incident.resolve", object=f"incident:{i % 2}",
                                   result="allowed", detail={"note": "误报，已处置"}),
                         at=T0 + timedelta(days=i)) for i in range(4)]


def test_verify_exit_codes_and_messages(db: Database, db_target: Path | str) -> None:
    ids = _fill(db)
    ok = _run("verify", "--db", str(db_target))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"audit chain intact: 4 rows ({ids[0]}, {ids[-1]})")
    other = open_database(db_target)  # someone with write access to the database
    with write_tx(other):
        other.execute("UPDATE audit_log SET detail = '{}' WHERE id = ?", [ids[2]])
    other.close()
    broken = _run("verify", "--db", str(db_target))
    assert broken.returncode == 1
    assert (f"row {ids[2]}: its fields do not match its hash (changed after it was written)"
            in broken.stderr)
    assert "Traceback" not in broken.stderr


def test_verify_of_a_missing_file_says_so(tmp_path: Path) -> None:
    missing = _run("verify", "--db", str(tmp_path / "nope.db"))
    assert missing.returncode == 2
    assert "no such database" in missing.stderr and "Traceback" not in missing.stderr
    unreachable = _run("verify", "--db", "postgresql://alarmlink@127.0.0.1:1/nowhere")
    assert unreachable.returncode == 2 and "Traceback" not in unreachable.stderr
    assert unreachable.stderr.count("\n") == 1 and "cannot connect to PostgreSQL" in \
        unreachable.stderr


def test_list_filters_by_object(db: Database, db_target: Path | str) -> None:
    _fill(db)
    listed = _run("list", "--db", str(db_target), "--object", "incident:1", "--limit", "1")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["object"], r["username"]) for r in rows] == [("incident:1", "民警-3")]


def test_export_csv_round_trip_with_chinese_text(db: Database, db_target: Path | str,
                                                 tmp_path: Path) -> None:
    ids = _fill(db)
    out = tmp_path / "audit.csv"
    done = _run("export", "--db", str(db_target), "--from", "2026-11-01", "--to", "2026-11-03",
                "--out", str(out))
    assert done.returncode == 0, done.stderr
    raw = out.read_bytes()
    assert raw.startswith(BOM.encode("utf-8"))
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [int(r["id"]) for r in rows] == ids[:2]  # Nov 1 and 2 (Shanghai days)
    first = rows[0]
    stored = db.execute("SELECT * FROM audit_log WHERE id = ?", [ids[0]]).fetchone()
    names = [d[0] for d in db.execute("SELECT * FROM audit_log").description]
    assert {k: first[k] for k in names} == {k: str(v) for k, v in zip(names, stored,
                                                                       strict=True)}
    assert first["username"] == "民警-0" and json.loads(first["detail"]) == {"note": "误报，已处置"}
    assert first["at"] == "2026-11-01T01:30:00.000Z"
    assert first["at_local"] == "2026-11-01T09:30:00+08:00"
    to_stdout = _run("export", "--db", str(db_target), "--from", "2026-11-01", "--to",
                     "2026-11-03")
    assert to_stdout.stdout == raw.decode("utf-8").replace("\r\n", "\n")


def test_export_dates_are_station_days(db: Database) -> None:
    # 2026-11-01 00:30 in Shanghai is still October 31 in UTC
    audit.append(db, Entry("a", "r", "s", "x", "o", "allowed"),
                 at=datetime(2026, 10, 31, 16, 30, tzinfo=UTC))
    zone = ZoneInfo("Asia/Shanghai")
    text = export(db, datetime(2026, 11, 1, tzinfo=zone), datetime(2026, 11, 2, tzinfo=zone))
    assert "2026-10-31T16:30:00.000Z,2026-11-01T00:30:00+08:00" in text
    assert export(db, datetime(2026, 11, 2, tzinfo=zone),
                  datetime(2026, 11, 3, tzinfo=zone)).count("\n") == 1  # header only


@sqlite_only("the arguments are refused before any database is read")
def test_export_refuses_a_bad_range_and_a_bad_date(db_path: Path, db: Database) -> None:
    backwards = _run("export", "--db", str(db_path), "--from", "2026-12-01", "--to",
                     "2026-11-01")
    assert backwards.returncode == 2 and "is not after --from" in backwards.stderr
    bad = _run("export", "--db", str(db_path), "--from", "1 Nov", "--to", "2026-11-01")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


@pytest.mark.parametrize(("text", "message"), [
    ("[audit]\nretention_days = 90\n", "audit.retention_days: must be at least 180 days"),
    ("[audit]\ntimezone = \"Mars/Olympus\"\n", "unknown time zone 'Mars/Olympus'"),
    ("[audit]\nkeep = 1\n", "audit.keep: unknown key"),
])
def test_audit_config_is_validated(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "central.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(path)


def test_audit_config_defaults(tmp_path: Path) -> None:
    path = tmp_path / "central.toml"
    path.write_text("[audit]\nretention_days = 180\n")
    config = load_config(path)
    assert config.audit.retention_days == 180 and config.audit.timezone == "Asia/Shanghai"
