"""Issue 18, interoperability: the agent serves its camera over RTSP (``[rtc.rtsp]``) for
a GB/T 28181 access gateway to pull. FFmpeg's RTSP client (through PyAV) stands in for
the gateway: it authenticates with Digest, plays H.264 over RTP interleaved in TCP, and
decodes frames whose burnt-in clock moves. No credentials, a wrong password or a UDP
transport is refused; a world-readable password file stops the agent's start with one
line; a client sending garbage gets 400 and the server keeps serving.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from fixtures.ports import worker_free_port
from helpers import wait_for
from hypothesis import given, settings
from hypothesis import strategies as st

from alarmlink import wire
from alarmlink.config_base import ConfigError
from edge_agent.rtc import rtsp
from edge_agent.rtc.config import RtcConfig
from edge_agent.rtc.media import read_clock
from edge_agent.rtc.rtsp import digest_response, parse_request
from edge_agent.rtc.service import RtcService

PASSWORD = "gateway-secret-7"


def password_file(tmp_path: Path, mode: int = 0o600) -> Path:
    path = tmp_path / "rtsp-password"
    path.write_text(PASSWORD + "\n")
    os.chmod(path, mode)
    return path


def rtc_config(tmp_path: Path, port: int, **rtsp: object) -> RtcConfig:
    return RtcConfig.model_validate({
        "width": 320, "height": 180, "fps": 10, "record": False,
        "rtsp": {"bind": "127.0.0.1", "port": port, "username": "gateway",
                 "password_file": str(password_file(tmp_path)), **rtsp}})


def publish(_signal: wire.RtcSignal) -> bool:
    return True


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    port = worker_free_port()
    service = RtcService(rtc_config(tmp_path, port, max_clients=1), publish)
    service.start()
    yield port
    service.stop()


class Rtsp:
    """A bare RTSP client on a socket: what a careless or hostile client sends."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.cseq = 0
        self.nonce = ""

    def request(self, method: str, uri: str, headers: dict[str, str] | None = None,
                auth: bool = True) -> tuple[int, dict[str, str]]:
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}"]
        if auth and self.nonce:
            response = digest_response("gateway", PASSWORD, method, uri, self.nonce)
            lines.append(f'Authorization: Digest username="gateway", realm="alarmlink", '
                         f'nonce="{self.nonce}", uri="{uri}", response="{response}"')
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.answer()

    def answer(self) -> tuple[int, dict[str, str]]:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        head = data.split(b"\r\n\r\n")[0].decode()
        status = int(head.split(" ")[1])
        headers = {k.lower(): v.strip() for k, _, v in (
            line.partition(":") for line in head.split("\r\n")[1:])}
        if status == 401:
            self.nonce = headers["www-authenticate"].split('nonce="')[1].split('"')[0]
        return status, headers

    def close(self) -> None:
        self.sock.close()


def clocks(url: str, frames: int = 6) -> list[tuple[int, int, int]]:
    """(width, height, burnt-in clock) of the first decoded frames."""
    seen = []
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=15) as container:
        for frame in container.decode(video=0):
            seen.append((frame.width, frame.height,
                         read_clock(frame.to_ndarray(format="rgb24"))))
            if len(seen) == frames:
                break
    return seen


def test_a_gateway_pulls_the_camera_over_rtsp_with_digest(served: int) -> None:
    seen = clocks(f"rtsp://gateway:{PASSWORD}@127.0.0.1:{served}/live")
    assert {(w, h) for w, h, _ in seen} == {(320, 180)}
    stamps = [c for _, _, c in seen]
    assert len(set(stamps)) > 1 and stamps == sorted(stamps)   # the picture moves on
    # and once that client has gone, the next one is served (max_clients = 1)
    assert len(clocks(f"rtsp://gateway:{PASSWORD}@127.0.0.1:{served}/live", 2)) == 2


def test_no_stream_without_the_password(served: int) -> None:
    with pytest.raises(av.FFmpegError):
        clocks(f"rtsp://gateway:wrong@127.0.0.1:{served}/live", 1)
    with pytest.raises(av.FFmpegError):
        clocks(f"rtsp://127.0.0.1:{served}/live", 1)


def test_the_protocol_refusals(served: int) -> None:
    uri = f"rtsp://127.0.0.1:{served}/live"
    client = Rtsp(served)
    try:
        assert client.request("OPTIONS", uri, auth=False)[0] == 200
        status, headers = client.request("DESCRIBE", uri, auth=False)
        assert status == 401 and headers["www-authenticate"].startswith("Digest ")
        assert client.request("DESCRIBE", f"rtsp://127.0.0.1:{served}/other")[0] == 404
        assert client.request("DESCRIBE", uri)[0] == 200
        assert client.request("PLAY", uri)[0] == 455           # not set up
        udp = {"Transport": "RTP/AVP;unicast;client_port=5000-5001"}
        assert client.request("SETUP", uri + "/track0", udp)[0] == 461
        tcp = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
        assert client.request("SETUP", uri + "/track0", tcp)[0] == 200
        assert client.request("PLAY", uri)[0] == 200
        second = Rtsp(served)   # max_clients = 1: a second player is turned away
        second.request("DESCRIBE", uri, auth=False)
        second.request("SETUP", uri + "/track0", tcp)
        assert second.request("PLAY", uri)[0] == 453
        second.close()
    finally:
        client.close()


def test_garbage_gets_400_and_the_server_goes_on(served: int) -> None:
    raw = socket.create_connection(("127.0.0.1", served), timeout=10)
    raw.sendall(b"\x00\xffGARBAGE \xe4\xb8\xad\r\n\r\n")
    assert raw.recv(100).startswith(b"RTSP/1.0 400")
    raw.close()
    client = Rtsp(served)
    assert client.request("OPTIONS", f"rtsp://127.0.0.1:{served}/live", auth=False)[0] == 200
    client.close()


def test_idle_connections_are_dropped_and_capped(served: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rtsp, "SESSION_TIMEOUT_S", 0.5)
    idle = [socket.create_connection(("127.0.0.1", served), timeout=10)
            for _ in range(rtsp.MAX_CONNECTIONS)]
    extra = socket.create_connection(("127.0.0.1", served), timeout=10)
    try:
        assert extra.recv(100) == b""                  # over the cap: closed at once
        assert all(s.recv(100) == b"" for s in idle)   # silent: dropped after the timeout
        client = Rtsp(served)                          # and a real client is served
        assert client.request("OPTIONS", f"rtsp://127.0.0.1:{served}/live",
                              auth=False)[0] == 200
        client.close()
    finally:
        for sock in (*idle, extra):
            sock.close()


def test_a_world_readable_password_file_stops_the_start_with_one_line(tmp_path: Path) -> None:
    config = rtc_config(tmp_path, worker_free_port())
    os.chmod(config.rtsp.password_file, 0o644)   # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="chmod 600") as refused:
        RtcService(config, publish)
    assert "\n" not in str(refused.value) and PASSWORD not in str(refused.value)


def test_a_port_in_use_leaves_the_agent_running(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        service = RtcService(rtc_config(tmp_path, taken.getsockname()[1]), publish)
        service.start()
        try:
            wait_for(lambda: "RTSP not served" in caplog.text, what="the error logged")
            assert "change [rtc.rtsp] port" in caplog.text
        finally:
            service.stop()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_the_request_parser_only_ever_raises_value_errors(head: bytes) -> None:
    try:
        method, uri, headers = parse_request(head)
    except ValueError:
        return
    assert method.isalpha() and isinstance(uri, str)
    assert all(k == k.lower() for k in headers)
