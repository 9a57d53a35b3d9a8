"""`alarmlink central serve` under a fake systemd: READY=1 after its first supervision
pass, WATCHDOG=1 from the supervision loop, STOPPING=1 on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from central_testkit import DEMO_REGISTRY
from helpers import wait_for

from alarmlink.broker import free_port


def test_central_speaks_sd_notify(tmp_path: Path) -> None:
    name = f"alarmlink-central-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(0.2)
    received: list[list[str]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                received.append(sock.recv(4096).decode().split("\n"))
            except TimeoutError:
                continue

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    env = {**os.environ, "NOTIFY_SOCKET": f"@{name}", "WATCHDOG_USEC": "2000000"}
    # No broker on this port: central must still report ready and alive (it retries MQTT).
    proc = subprocess.Popen([sys.executable, "-m", "alarmlink_tools.cli", "central", "serve",
                             "--db", str(tmp_path / "c.db"), "--registry", str(DEMO_REGISTRY),
                             "--broker-url", f"mqtt://127.0.0.1:{free_port()}",
                             "--port", str(free_port())], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any("READY=1" in m for m in received), timeout=30, what="READY=1")
        wait_for(lambda: sum("WATCHDOG=1" in m for m in received) >= 3, what="watchdog pings")
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down cleanly, then re-raises SIGTERM; systemd counts that a clean exit
        assert proc.wait(20) in (0, -signal.SIGTERM)
        wait_for(lambda: any("STOPPING=1" in m for m in received), what="STOPPING=1")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        done.set()
        reader.join(2)
        sock.close()
