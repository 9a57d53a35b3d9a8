"""The HTTP edge: security headers on every answer, Host checking, the body size limit."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from central_testkit import DEMO_REGISTRY, TEST_BASE_URL, LiveServer, Recorder
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from central.api import create_app
from central.api.edge import CONTENT_SECURITY_POLICY
from central.config import DEFAULT_MAX_BODY_BYTES, CentralConfig, HttpConfig

ACK = "/api/incidents/1/acknowledge"


@pytest.mark.parametrize("path", ["/", "/static/console.js", "/api/incidents", "/healthz",
                                  "/openapi.json", "/no-such-page"])
def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in response.headers  # plain http
    no_store = path.startswith("/api/") or path == "/healthz"
    assert (response.headers.get("cache-control") == "no-store") is no_store


def test_hsts_only_over_https(db_path: Path, recorder: Recorder) -> None:
    config = CentralConfig(db=db_path, registry=DEMO_REGISTRY)
    with TestClient(create_app(config, publisher=recorder),
                    base_url="https://127.0.0.1") as https_client:
        response = https_client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_csp_allows_nothing_inline_or_foreign() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_console_has_no_inline_script_style_or_handler() -> None:
    """The CSP would block them: the page must not need them."""
    html = (Path(__file__).resolve().parents[2] / "central/static/index.html").read_text()
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+\s*=", html)  # no onclick= etc.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    for attributes, body in scripts:
        assert "src=" in attributes and not body.strip(), f"inline script: {attributes[:60]}"


# ------------------------------------------------------------------ hosts

def test_unknown_host_is_refused(client: TestClient) -> None:
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/healthz", headers={"Host": "localhost:8080"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "127.0.0.1:8080"}).status_code == 200


def test_testclient_default_host_is_refused(db_path: Path, recorder: Recorder) -> None:
    """Why the tests pass TEST_BASE_URL: "testserver" is not an allowed host."""
    config = CentralConfig(db=db_path, registry=DEMO_REGISTRY)
    with TestClient(create_app(config, publisher=recorder)) as default_client:
        assert default_client.get("/healthz").status_code == 400


def test_lan_name_must_be_listed(db_path: Path, recorder: Recorder) -> None:
    config = CentralConfig(db=db_path, registry=DEMO_REGISTRY,
                           http=HttpConfig(allowed_hosts=["console.station.lan", "10.0.0.5"]))
    with TestClient(create_app(config, publisher=recorder),
                    base_url="http://console.station.lan") as lan:
        assert lan.get("/healthz").status_code == 200
        assert lan.get("/healthz", headers={"Host": "10.0.0.5:8080"}).status_code == 200
        assert lan.get("/healthz", headers={"Host": "localhost"}).status_code == 400


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", ["localhost", "127.0.0.1", "::1"]),
    ("0.0.0.0", ["localhost", "127.0.0.1", "::1"]),
    ("::", ["localhost", "127.0.0.1", "::1"]),
    ("192.168.1.20", ["localhost", "127.0.0.1", "::1", "192.168.1.20"]),
])
def test_default_allowed_hosts(host: str, expected: list[str]) -> None:
    assert HttpConfig(host=host).effective_allowed_hosts() == expected


def test_allowed_hosts_replace_the_default() -> None:
    assert HttpConfig(host="10.0.0.5", allowed_hosts=["a.lan"]).effective_allowed_hosts() == [
        "a.lan"]


def test_websocket_from_an_unknown_host_is_refused(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(
            "/ws", headers={"Host": "evil.example"}) as ws:
        ws.receive_json()


# ------------------------------------------------------------------ body limit

def test_default_limit_fits_the_largest_legal_action(client: TestClient) -> None:
    """A resolve with the longest note, every character escaped, is under the limit."""
    body = {"note": "\u2028" * 2000, "outcome": "other"}
    encoded = json.dumps(body).encode()
    assert len(encoded) < DEFAULT_MAX_BODY_BYTES
    response = client.post("/api/incidents/999/resolve", content=encoded,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 404  # read and judged, not refused for its size


def test_declared_oversize_body_gets_413_json(client: TestClient) -> None:
    body = b"x" * (DEFAULT_MAX_BODY_BYTES + 1)
    response = client.post(ACK, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "max_body_bytes" in response.json()["detail"]
    assert "\n" not in response.json()["detail"]


def test_chunked_oversize_body_gets_413(live_server: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(DEFAULT_MAX_BODY_BYTES // 1024 + 10):
            yield b" " * 1024

    response = httpx.post(live_server.url + ACK, content=chunks(),
                          headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 413
    assert "max_body_bytes" in response.json()["detail"]


def test_refused_before_the_body_is_sent(live_server: LiveServer) -> None:
    """With a Content-Length over the limit the answer comes before any body byte."""
    port = int(live_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST {ACK} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {10**9}\r\n\r\n".encode())
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 413 ")


def test_bad_content_length_is_400(live_server: LiveServer) -> None:
    port = int(live_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST {ACK} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Content-Length: lots\r\n\r\n".encode())
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 400 ")


def test_limit_is_configurable(db_path: Path, recorder: Recorder) -> None:
    config = CentralConfig(db=db_path, registry=DEMO_REGISTRY,
                           http=HttpConfig(max_body_bytes=2048))
    with TestClient(create_app(config, publisher=recorder), base_url=TEST_BASE_URL) as small:
        response = small.post(ACK, json={"actor": "officer-li", "note": "n" * 3000})
    assert response.status_code == 413
    assert "2048" in response.json()["detail"]
