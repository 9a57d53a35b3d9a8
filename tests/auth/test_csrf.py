"""CSRF: state changes need the console's own (or a configured) origin and the
session's X-CSRF-Token; a WebSocket from a foreign origin is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.auth import request
from fixtures.central import CentralProcess, running_central
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from alarmlink.broker import MosquittoBroker

FRIEND = "https://alarm.example.cn"
EVIL = "https://evil.example.com"


@pytest.fixture
def central(fresh_mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[CentralProcess]:
    with running_central(tmp_path / "central", fresh_mosquitto,
                         auth=f'allowed_origins = ["{FRIEND}"]') as process:
        yield process


def test_state_changes_need_origin_and_token(central: CentralProcess) -> None:
    session = central.session
    assert session is not None
    url = f"{central.url}/api/devices/school-01/commands"
    body = {"name": "self_test"}
    own = central.url
    cases = {
        "foreign origin, cookie and token": ({**session.headers, "Origin": EVIL}, 403),
        "foreign referer, cookie and token": ({**session.headers,
                                               "Referer": EVIL + "/page"}, 403),
        "own origin, no token": ({**session.cookie, "Origin": own}, 403),
        "own origin, wrong token": ({**session.cookie, "Origin": own,
                                     "X-CSRF-Token": "0" * 64}, 403),
        "no origin, no token": (session.cookie, 403),
        "own origin and token": ({**session.headers, "Origin": own}, 202),
        "configured origin and token": ({**session.headers, "Origin": FRIEND}, 202),
        "no origin (a script) and token": (session.headers, 202),
    }
    got = {name: request(url, "POST", body, headers)[0] for name, (headers, _) in cases.items()}
    assert got == {name: status for name, (_, status) in cases.items()}
    assert len(central.rows("SELECT * FROM commands")) == 3
    denied = central.rows("SELECT action FROM audit_log WHERE result = 'denied'")
    assert [r["action"] for r in denied] == ["csrf"] * 5


def test_login_and_websocket_from_a_foreign_origin_are_refused(central: CentralProcess) -> None:
    status, body, _ = request(f"{central.url}/api/login", "POST",
                              {"username": "officer-li", "password": "test-password-0123"},
                              {"Origin": EVIL})
    assert status == 403 and "cross-origin" in body["detail"]
    with pytest.raises(InvalidStatus) as info:
        connect(central.ws_url, additional_headers={**central.ws_headers, "Origin": EVIL},
                open_timeout=10)
    assert info.value.response.status_code == 403
    with connect(central.ws_url, additional_headers={**central.ws_headers,
                                                     "Origin": central.url},
                 open_timeout=10) as ws:
        assert '"snapshot"' in str(ws.recv(timeout=10))
