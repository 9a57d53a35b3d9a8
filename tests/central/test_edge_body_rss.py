"""A 300 MiB request body to the real central: 413, and central's memory barely moves."""

from __future__ import annotations

import select
import socket
from pathlib import Path

import pytest
from fixtures.central import CentralProcess

pytestmark = pytest.mark.broker

BODY = 300 * 1024 * 1024
CHUNK = b"x" * 65536
#: Growth of central's peak RSS that a buffered 300 MiB body could never stay under.
MAX_GROWTH_KIB = 50 * 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _post_huge(port: int, *, chunked: bool) -> tuple[bytes, int]:
    """POST a 300 MiB body, reading the answer as soon as there is one.

    Returns (the answer's head, body bytes sent). A central that read the whole body
    before answering would make this send all 300 MiB.
    """
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY}"
    frame = (b"%x\r\n" % len(CHUNK)) + CHUNK + b"\r\n" if chunked else CHUNK
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST /api/incidents/1/acknowledge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Content-Type: application/json\r\n{length}\r\n\r\n".encode())
        sock.settimeout(5)
        while sent < BODY:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break  # central stopped reading: the answer is waiting
            sent += len(CHUNK)
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(65536)
            if not data:
                break
            head += data
    return head, sent


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_huge_body_is_refused_without_holding_it(central_process: CentralProcess,
                                                 chunked: bool) -> None:
    assert central_process.proc is not None
    pid = central_process.proc.pid
    # Logging in (argon2id, 64 MiB) already raised the peak; start the peak afresh:
    # writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _status_kib(pid, "VmRSS")
    head, sent = _post_huge(central_process.port, chunked=chunked)
    assert head.startswith(b"HTTP/1.1 413 "), head[:200]
    assert sent < BODY, "central read the whole body before answering"
    growth = _status_kib(pid, "VmHWM") - before  # peak RSS: catches a transient buffer too
    assert growth < MAX_GROWTH_KIB, f"central's peak RSS grew by {growth} KiB"
    assert central_process.api("GET", "/healthz")["ok"] is True  # still serving
