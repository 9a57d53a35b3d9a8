"""Lockout: N wrong passwords lock the account (even the right one is refused) until
the lock ends or an admin clears it (API and CLI); too many failures from one
address give 429."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fixtures.auth import ALARMLINK, TEST_PASSWORD, ApiError, login, request
from fixtures.central import CentralProcess, running_central
from helpers import wait_for

from alarmlink.broker import MosquittoBroker

FAILURES = 3


def _lock(central: CentralProcess, username: str) -> None:
    for n in range(FAILURES):
        status, body, _ = request(f"{central.url}/api/login", "POST",
                                  {"username": username, "password": "wrong-password-1"})
        assert status == (423 if n == FAILURES - 1 else 401), body
    status, body, _ = request(f"{central.url}/api/login", "POST",
                              {"username": username, "password": TEST_PASSWORD})
    assert status == 423 and "locked until" in body["detail"], body


def _can_log_in(central: CentralProcess, username: str) -> bool:
    try:
        login(central.url, username)
    except ApiError as exc:
        assert exc.code == 423
        return False
    return True


def test_lock_ends_by_time_by_api_and_by_cli(fresh_mosquitto: MosquittoBroker,
                                            tmp_path: Path) -> None:
    auth = f"lockout_failures = {FAILURES}\nlockout_window_s = 600\nlockout_s = 3\n"
    with running_central(tmp_path / "c", fresh_mosquitto, auth=auth) as central:
        central.add_user("wang", "duty_officer", "station:chengxiang")
        # unknown user names: the same answer as a wrong password
        status, body, _ = request(f"{central.url}/api/login", "POST",
                                  {"username": "nobody", "password": "wrong-password-1"})
        assert (status, body) == (401, {"detail": "wrong user name or password"})

        _lock(central, "wang")
        listed = {u["username"]: u for u in central.api("GET", "/api/users")}
        assert listed["wang"]["locked_until"] and listed["wang"]["failed_logins"] == FAILURES
        # 1. the lock ends by itself
        wait_for(lambda: _can_log_in(central, "wang"), timeout=15, interval=0.5,
                 what="the 3 s lock to end")

        # 2. an admin unlocks over the API
        _lock(central, "wang")
        central.api("POST", "/api/users/wang/unlock", {})
        login(central.url, "wang")

        # 3. an admin unlocks with the CLI
        _lock(central, "wang")
        done = subprocess.run([*ALARMLINK, "central", "user", "unlock", "--db",
                               str(central.db_path), "--username", "wang"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        login(central.url, "wang")
        listed = {u["username"]: u for u in central.api("GET", "/api/users")}
        assert listed["wang"]["locked_until"] is None and listed["wang"]["failed_logins"] == 0
        actions = [(r["action"], r["result"]) for r in central.rows(
            "SELECT action, result FROM audit_log WHERE object = 'user:wang'")]
        assert actions.count(("login", "denied")) >= 3 * (FAILURES + 1)
        assert ("user.unlock", "allowed") in actions


def test_too_many_failures_from_one_address_give_429(fresh_mosquitto: MosquittoBroker,
                                                    tmp_path: Path) -> None:
    auth = "source_failures = 4\nsource_window_s = 600\n"
    with running_central(tmp_path / "c", fresh_mosquitto, auth=auth) as central:
        for n in range(4):
            status, _, _ = request(f"{central.url}/api/login", "POST",
                                   {"username": f"guess-{n}", "password": "wrong-password"})
            assert status == 401
        status, body, _ = request(f"{central.url}/api/login", "POST",
                                  {"username": "officer-li", "password": TEST_PASSWORD})
        assert status == 429 and "too many failed logins" in body["detail"]
