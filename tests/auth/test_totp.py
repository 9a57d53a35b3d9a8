"""TOTP as a second factor: ``user totp enable`` prints the otpauth URI once; login
then needs the current 6-digit code; ``[auth] totp_roles`` makes it compulsory."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from fixtures.auth import TEST_PASSWORD, add_user

from alarmlink_tools.cli import main
from central.api import create_app
from central.auth.config import AuthConfig
from central.config import CentralConfig

REGISTRY = Path(__file__).resolve().parents[2] / "central" / "demo_registry.toml"


def _login(client: TestClient, username: str, totp: str | None = None) -> tuple[int, str]:
    body = {"username": username, "password": TEST_PASSWORD}
    if totp is not None:
        body["totp"] = totp
    answer = client.post("/api/login", json=body)
    return answer.status_code, answer.json().get("detail", "")


def test_totp_login(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "central.db"
    add_user(db, "li")
    add_user(db, "chief", role="admin")
    assert main(["central", "user", "totp", "enable", "--db", str(db), "--username", "li"]) == 0
    uri = capsys.readouterr().out.strip().splitlines()[-1]
    assert uri.startswith("otpauth://totp/alarmlink:li?secret=")
    totp = pyotp.parse_uri(uri)
    config = CentralConfig(db=db, registry=REGISTRY, auth=AuthConfig(totp_roles=["admin"]))
    with TestClient(create_app(config, publisher=lambda _t, _p: None),
                    base_url="http://127.0.0.1") as client:
        status, detail = _login(client, "li")
        assert status == 401 and "TOTP code required" in detail
        wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
        assert _login(client, "li", wrong)[0] == 401
        assert _login(client, "li", totp.now()) == (200, "")
        # a role listed in totp_roles without a secret cannot log in at all
        status, detail = _login(client, "chief")
        assert status == 401 and "totp enable" in detail
        listed = client.get("/api/users").json()
        assert {u["username"]: u["totp"] for u in listed} == {"li": True, "chief": False}
        assert totp.secret not in client.get("/api/users").text
