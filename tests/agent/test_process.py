"""`alarmlink agent run` / `self-test` as real processes: last will on SIGKILL, clean
SIGTERM, and a crash after committing events that were never published."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_testkit import ROOT
from fixtures.mqtt import CentralStub
from helpers import wait_for

from alarmlink.broker import MosquittoBroker

CONFIG = """\
device_id = "{device_id}"
venue = "Test School"
state_dir = "state"

[broker]
url = "{url}"
username = "{device_id}"
password_file = "pw"
reconnect_min_s = 1
reconnect_max_s = 1

[[inputs]]
type = "button"
zone = "gate-button"
pin = 17

[[inputs]]
type = "detector"
zone = "dorm-smoke"
pin = 22
contact = "normally_closed"
supervision_pin = 23

[[inputs]]
type = "loop"
zone = "cabinet"
pin = 24
"""

SCENARIO = """\
[[step]]
at = 0.0
action = "press"
zone = "gate-button"

[[step]]
at = 0.0
action = "press"
zone = "gate-button"

[[step]]
at = 0.0
action = "press"
zone = "gate-button"
"""


def write_config(tmp_path: Path, url: str, device_id: str = "school-01",
                 password: str | None = None) -> Path:
    """An agent config for ``device_id`` (password ``<id>-pw`` unless given)."""
    (tmp_path / "pw").write_text((password or f"{device_id}-pw") + "\n")
    path = tmp_path / "school.toml"
    path.write_text(CONFIG.format(url=url, device_id=device_id))
    return path


def alarmlink(*args: str) -> list[str]:
    return [sys.executable, "-m", "alarmlink_tools.cli", *args]


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def spawn(procs: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    proc = subprocess.Popen(alarmlink(*args), env=env, cwd=ROOT, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    procs.append(proc)
    return proc


def outbox_rows(path: Path) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=5)
    try:
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        db.close()


def test_sigkill_leaves_the_retained_last_will_offline(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, procs: list[subprocess.Popen[str]]) -> None:
    proc = spawn(procs, "agent", "run", "--config",
                 str(write_config(tmp_path, shared_mosquitto.url, isolated_device_id)))
    wait_for(lambda: "online" in central_observer.states(), timeout=20, what="online status")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    wait_for(lambda: central_observer.states()[-1] == "offline", what="the last will")
    online = next(s for s, _r in central_observer.statuses() if s.state == "online")
    offline = central_observer.statuses()[-1][0]
    assert offline.boot_id == online.boot_id
    late = CentralStub(shared_mosquitto, device_id=isolated_device_id)
    try:
        assert wait_for(lambda: late.statuses(), what="retained status")[0][1] is True
        assert late.states() == ["offline"]
    finally:
        late.close()


def test_sigterm_stops_cleanly_with_status_stopped(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, procs: list[subprocess.Popen[str]]) -> None:
    proc = spawn(procs, "agent", "run", "--config",
                 str(write_config(tmp_path, shared_mosquitto.url, isolated_device_id)))
    wait_for(lambda: "online" in central_observer.states(), timeout=20, what="online status")
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, output
    assert central_observer.states()[-1] == "stopped"
    assert "offline" not in central_observer.states()


def test_crash_after_commit_delivers_every_event_once_after_restart(
        tmp_path: Path, fresh_mosquitto: MosquittoBroker,
        procs: list[subprocess.Popen[str]]) -> None:
    """The venue presses three times while the broker is down, then the agent process is
    SIGKILLed. A restarted agent delivers all three with the same ids, and seq goes on."""
    config = write_config(tmp_path, fresh_mosquitto.url)
    outbox = tmp_path / "state" / "outbox-school-01.sqlite3"
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    fresh_mosquitto.stop()
    sim = spawn(procs, "sim", "venue", "--config", str(config), "--scenario",
                str(tmp_path / "scenario.toml"), "--state-dir", str(tmp_path / "state"))
    wait_for(lambda: outbox_rows(outbox) == 3, timeout=20, what="three committed events")
    sim.send_signal(signal.SIGKILL)
    sim.wait(10)
    fresh_mosquitto.start()
    central = CentralStub(fresh_mosquitto, auto_store=True)
    try:
        agent = spawn(procs, "agent", "run", "--config", str(config))
        wait_for(lambda: outbox_rows(outbox) == 0, timeout=20, what="all three stored")
        events = central.events()
        assert sorted(e.seq for e in events) == [1, 2, 3]
        assert len({e.event_id for e in events}) == 3
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=15)
        db = sqlite3.connect(outbox)
        assert db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0] == 4
        db.close()
    finally:
        central.close()


def test_self_test_cli_reports_broker_and_inputs(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str) -> None:
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    good = subprocess.run(alarmlink("agent", "self-test", "--config", str(write_config(
        tmp_path, shared_mosquitto.url, isolated_device_id))),
                          env=env, capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "OK   broker: " in good.stdout and f"accepted {isolated_device_id}" in good.stdout
    assert "OK   input gate-button: GPIO17 contact open: normal" in good.stdout
    # mock pins rest as a quiet venue: normally-closed contacts and loops closed
    assert ("OK   input dorm-smoke: GPIO22 contact closed: normal; supervision GPIO23 closed"
            in good.stdout)
    assert "OK   input cabinet: GPIO24 contact closed: normal" in good.stdout
    assert "OK   outbox: " in good.stdout
    bad = subprocess.run(alarmlink("agent", "self-test", "--config", str(write_config(
        tmp_path, shared_mosquitto.url, isolated_device_id, "wrong"))),
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "FAIL broker: " in bad.stdout and f"refused {isolated_device_id}" in bad.stdout
    assert "wrong" not in bad.stdout
