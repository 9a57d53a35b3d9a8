"""Anonymous requests to every ``/api`` route and to ``/ws`` are refused with 401.

Table-driven over the app's own routes (the OpenAPI ones and any hidden one), so a
route added later without the session dependency fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from central.api import create_app
from central.config import CentralConfig

REGISTRY = Path(__file__).resolve().parents[2] / "central" / "demo_registry.toml"
#: routes that must answer without a session
PUBLIC = {("POST", "/api/login"), ("GET", "/api/setup"), ("GET", "/healthz"), ("GET", "/")}
FORGED = {"Cookie": "alarmlink_session=" + "x" * 43}
DUMMY = {"incident_id": "1", "device_id": "school-01", "ref": "abc", "username": "admin",
         "z": "1", "x": "1", "name": "1.png",
         "action": "disable"}


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("anon") / "central.db"
    app = create_app(CentralConfig(db=db, registry=REGISTRY), publisher=lambda _t, _p: None)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def _walk(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (no prefixes used)
            yield from _walk(route.original_router.routes)


def _routes() -> list[tuple[str, str]]:
    app = create_app(CentralConfig(db=Path("/nonexistent/never-opened.db")))
    return sorted({(method, route.path) for route in _walk(app.routes)
                   for method in route.methods})


ROUTES = _routes()


def test_the_table_covers_the_api() -> None:
    paths = {path for _m, path in ROUTES}
    for expected in ("/api/incidents", "/api/incidents/{incident_id}/acknowledge",
                     "/api/devices/{device_id}/commands", "/api/users", "/api/roles",
                     "/api/snapshots/{ref}.jpg", "/api/me", "/api/logout"):
        assert expected in paths
    assert len([r for r in ROUTES if r not in PUBLIC]) >= 20


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r not in PUBLIC],
                         ids=lambda v: str(v))
def test_anonymous_request_is_refused(anonymous: TestClient, method: str, path: str) -> None:
    url = re.sub(r"\{(\w+)\}", lambda m: DUMMY.get(m.group(1), "1"), path)
    answer = anonymous.request(method, url, json={} if method == "POST" else None)
    assert answer.status_code == 401, (method, url, answer.text)
    assert answer.json() == {"detail": "login required"}


def test_anonymous_websocket_is_refused(anonymous: TestClient) -> None:
    with pytest.raises(WebSocketDenialResponse) as info:
        with anonymous.websocket_connect("ws://127.0.0.1/ws"):
            pass
    assert info.value.status_code == 401
    with pytest.raises(WebSocketDenialResponse) as info:  # a made-up cookie is no session
        with anonymous.websocket_connect("ws://127.0.0.1/ws", headers=FORGED):
            pass
    assert info.value.status_code == 401


def test_a_forged_cookie_is_no_session(anonymous: TestClient) -> None:
    answer = anonymous.get("/api/incidents", headers=FORGED)
    assert answer.status_code == 401


def test_openapi_declares_the_session_cookie(anonymous: TestClient) -> None:
    schema = anonymous.get("/openapi.json").json()
    scheme = schema["components"]["securitySchemes"]["APIKeyCookie"]
    assert scheme == {**scheme, "type": "apiKey", "in": "cookie", "name": "alarmlink_session"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if (method.upper(), path) in PUBLIC:
                continue
            assert operation.get("security") == [{"APIKeyCookie": []}], (method, path)


def test_public_routes_stay_public(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").status_code in (200, 503)
    assert anonymous.get("/").status_code == 200
    assert anonymous.get("/api/setup").json() == {"users": False}
