"""``alarmlink central`` commands: dead-letters, and serve as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from central_testkit import DEMO_REGISTRY, TOPICS, Recorder
from fixtures.auth import TEST_PASSWORD, add_user_cli, login
from helpers import wait_for
from sqlite_utils import Database

from alarmlink.broker import MosquittoBroker, free_port
from alarmlink_tools.cli import main
from central.ingest import Ingestor


def test_dead_letters_command(db: Database, db_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["central", "dead-letters", "--db", str(db_path)]) == 0
    assert "no dead letters" in capsys.readouterr().out
    Ingestor(db, TOPICS, Recorder()).handle(TOPICS.event("ghost-1"), b"{}")
    assert main(["central", "dead-letters", "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert "unknown device 'ghost-1'" in out and TOPICS.event("ghost-1") in out
    assert main(["central", "dead-letters", "--db", str(db_path), "--counts"]) == 0
    assert "(unknown): received 1, not stored 0 (over budget), deleted 0" in \
        capsys.readouterr().out


def test_serve_with_bad_config_fails_clearly(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "central.toml"
    config.write_text("[http]\nprot = 1\n")
    assert main(["central", "serve", "--config", str(config)]) == 2
    assert "http.prot: unknown key" in capsys.readouterr().err


@pytest.mark.broker
def test_serve_runs_until_interrupted(shared_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    password = tmp_path / "mqtt-password"
    password.write_text("central-test-pw\n")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "alarmlink_tools.cli", "central", "serve", "--db",
         str(tmp_path / "c.db"), "--broker-url", shared_mosquitto.url, "--username", "central",
         "--password-file", str(password), "--port", str(port), "--registry",
         str(DEMO_REGISTRY)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz").json()["ok"] is True
            except httpx.HTTPError:
                return proc.poll() is not None  # exited: stop waiting, fail below

        wait_for(healthy, timeout=20, what="central serve to be healthy")
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/api/stations").status_code == 401
        assert httpx.get(f"{url}/api/setup").json() == {"users": False}
        # the first admin, exactly as serve's hint says, while central runs
        add_user_cli(tmp_path / "c.db", tmp_path, "admin", "admin", "root")
        session = login(url, "admin")
        stations = httpx.get(f"{url}/api/stations", headers=session.headers).json()
        assert len(stations) == 2
        assert httpx.get(f"{url}/api/setup").json() == {"users": True}
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0, output
    assert "central-test-pw" not in output
    hint = ("no users yet: create the first admin with `alarmlink central user add --db "
            f"{tmp_path / 'c.db'} --username admin --role admin --node root`")
    assert hint in output
    assert TEST_PASSWORD not in output and session.token not in output
