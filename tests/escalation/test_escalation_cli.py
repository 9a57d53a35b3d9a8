"""`alarmlink central roster add|list|remove`, `central failover-key` and `sim modem`
(real commands in child processes, a real SQLite file; the roster and the failover key on
PostgreSQL too)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from fixtures.auth import add_user
from fixtures.central import ALARMLINK

from alarmlink.gsm import AtModem
from central.db.backend import open_database
from central.registry import load_registry

REGISTRY = Path(__file__).resolve().parents[2] / "central" / "demo_registry.toml"


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ALARMLINK, *args], capture_output=True, text=True, timeout=60,
                          check=False, input=stdin)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                             marks=pytest.mark.postgres)])
def test_roster_add_list_remove_and_failover_key(tmp_path: Path, backend: str,
                                                 request: pytest.FixtureRequest) -> None:
    db_path: Path | str = (tmp_path / "central.db" if backend == "sqlite"
                           else str(request.getfixturevalue("pg_url")))
    db = open_database(db_path)
    load_registry(db, REGISTRY)
    db.close()
    add_user(db_path, "officer-zhang", "duty_officer", "station:chengxiang")
    db = ["--db", str(db_path)]
    added = _run("central", "roster", "add", *db, "--station", "chengxiang", "--username",
                 "officer-zhang", "--starts", "2025-06-01T08:00+08:00", "--hours", "24")
    assert added.returncode == 0, added.stderr
    listed = json.loads(_run("central", "roster", "list", *db, "--station", "chengxiang",
                             "--at", "2025-06-01T20:00+08:00").stdout)
    assert [r["username"] for r in listed["on_duty"]["chengxiang"]] == ["officer-zhang"]
    shift_id = listed["shifts"][0]["id"]
    bad = _run("central", "roster", "add", *db, "--station", "nowhere", "--username",
               "officer-zhang", "--starts", "2025-06-01T08:00", "--hours", "1")
    assert bad.returncode == 2 and "time zone" in bad.stderr and "Traceback" not in bad.stderr
    assert _run("central", "roster", "remove", *db, "--id", str(shift_id)).returncode == 0
    gone = _run("central", "roster", "remove", *db, "--id", str(shift_id))
    assert gone.returncode == 2 and f"no shift {shift_id}" in gone.stderr

    key_file = tmp_path / "k" / "failover.key"
    made = _run("central", "failover-key", *db, "--device", "school-01", "--out", str(key_file))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_text()) > 32
    unknown = _run("central", "failover-key", *db, "--device", "nope", "--out", str(key_file))
    assert unknown.returncode == 2 and "add-device" in unknown.stderr


def test_sim_modem_prints_its_pty_and_answers_at_commands() -> None:
    proc = subprocess.Popen([*ALARMLINK, "sim", "modem", "--number", "13800000110"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None and proc.stdin is not None
        path = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert path.startswith("/dev/")
        modem = AtModem(path, timeout_s=5)
        modem.open()
        modem.send_sms("13900000001", "测试")
        modem.close()
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "phone 13900000001 shows: 测试" in out
