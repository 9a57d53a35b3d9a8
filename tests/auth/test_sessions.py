"""Sessions end: logout, a disabled user (at once, WebSocket too), idle timeout (but a
console's WebSocket keepalive counts as use) and the absolute lifetime. Secrets never
reach central's log or an API answer."""

from __future__ import annotations

import json
import time
from pathlib import Path

from e2e.conftest import Console
from fixtures.auth import TEST_PASSWORD, Session, request
from fixtures.central import CentralProcess, running_central
from helpers import wait_for
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from alarmlink.broker import MosquittoBroker


def _me(central: CentralProcess, session: Session) -> int:
    return request(f"{central.url}/api/me", headers=session.cookie)[0]


def test_logout_and_disable_end_sessions_at_once(fresh_mosquitto: MosquittoBroker,
                                                 tmp_path: Path) -> None:
    with running_central(tmp_path / "c", fresh_mosquitto) as central:
        central.add_user("wang", "duty_officer", "station:chengxiang")
        first, second = central.login("wang"), central.login("wang")
        assert _me(central, first) == 200
        status, _, _ = request(f"{central.url}/api/logout", "POST", {}, first.headers)
        assert status == 204
        assert _me(central, first) == 401 and _me(central, second) == 200

        with connect(central.ws_url, additional_headers=second.cookie, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
            central.api("POST", "/api/users/wang/disable", {})
            assert _me(central, second) == 401
            ws.send(json.dumps({"type": "ping", "id": 1}))
            try:
                while True:
                    ws.recv(timeout=10)
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4401
        status, body, _ = request(f"{central.url}/api/login", "POST",
                                  {"username": "wang", "password": TEST_PASSWORD})
        assert status == 401  # a disabled account cannot log in (and says nothing more)
        central.api("POST", "/api/users/wang/enable", {})
        assert _me(central, central.login("wang")) == 200
        assert _me(central, second) == 401, "enabling does not revive ended sessions"


def test_idle_timeout_but_a_pinging_console_stays_logged_in(
        fresh_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    idle = 2.0
    with running_central(tmp_path / "c", fresh_mosquitto,
                         auth=f"idle_timeout_s = {idle}") as central:
        unused, console_user = central.login(), central.login()
        used_from = time.monotonic()
        console = Console(central.ws_url, console_user.cookie)
        try:
            pings = 0

            def idle_passed() -> bool:
                nonlocal pings
                pings += 1
                console._ws.send(json.dumps({"type": "ping", "id": pings}))
                return time.monotonic() - used_from > 2 * idle

            wait_for(idle_passed, timeout=20, interval=0.3, what="twice the idle timeout")
            assert _me(central, unused) == 401, "an unused session outlived its idle timeout"
            assert _me(central, console_user) == 200, "the console's keepalive did not count"
        finally:
            console.close()


def test_absolute_lifetime_ends_even_a_busy_session(fresh_mosquitto: MosquittoBroker,
                                                     tmp_path: Path) -> None:
    with running_central(tmp_path / "c", fresh_mosquitto,
                         auth="session_lifetime_s = 3") as central:
        session = central.login()
        wait_for(lambda: _me(central, session) == 401, timeout=20, interval=0.3,
                 what="the 3 s session lifetime to end a session in use")
        reasons = central.rows("SELECT count(*) FROM sessions")
        assert reasons[0][0] >= 2


def test_no_secret_in_the_log_or_an_answer(central_process: CentralProcess) -> None:
    central = central_process
    new_password = "another-secret-pass-42"
    created = central.api("POST", "/api/users", {"username": "li", "role": "viewer",
                                                 "node": "station:dading",
                                                 "password": new_password})
    central.api("POST", "/api/users/li/password", {"password": new_password + "x"})
    request(f"{central.url}/api/login", "POST", {"username": "li", "password": "nope-nope-1"})
    li = central.login("li", new_password + "x")
    answers = json.dumps([created, central.api("GET", "/api/users"),
                          central.api("GET", "/api/me", session=li),
                          central.api("GET", "/api/roles")])
    hashes = [r[0] for r in central.rows("SELECT password_hash FROM users")]
    central.stop()
    log = central.log.read_text(errors="replace")
    assert "POST /api/login" in log  # the log is the real one
    assert central.session is not None
    for secret in [TEST_PASSWORD, new_password, "nope-nope-1", li.token, central.session.token,
                   *hashes, "$argon2"]:
        assert secret not in log, "a secret in central's log"
        assert secret not in answers, "a secret in an API answer"
