"""systemd notify (issue 5, line 5): the agent process sends READY and WATCHDOG through a
fake NOTIFY_SOCKET (a real AF_UNIX datagram socket), withholds WATCHDOG once its MQTT link
has been dead longer than watchdog_link_grace_s (the real Mosquitto is stopped), resumes
when the link is back, and says STOPPING on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import tomli_w
from agent_testkit import ROOT, config_dict
from helpers import wait_for

from alarmlink.broker import MosquittoBroker
from alarmlink.sdnotify import Notifier
from edge_agent.watchdog import LOOP_STALL_S, Watchdog


class NotifySocket:
    """What systemd's end of $NOTIFY_SOCKET would receive, in order."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.messages: list[list[str]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append(data.decode().split("\n"))

    def since(self, index: int) -> list[list[str]]:
        return list(self.messages[index:])

    def index_of(self, predicate: Callable[[list[str]], bool], start: int = 0) -> int | None:
        for i, fields in enumerate(list(self.messages)[start:], start):
            if predicate(fields):
                return i
        return None

    def close(self) -> None:
        self._closed = True
        self._thread.join(2)
        self.sock.close()


def status(fields: list[str]) -> str:
    return next((f[7:] for f in fields if f.startswith("STATUS=")), "")


@pytest.fixture
def notify() -> Iterator[tuple[str, NotifySocket]]:
    name = f"alarmlink-test-{uuid.uuid4().hex}"
    receiver = NotifySocket(b"\0" + name.encode())  # abstract, as systemd uses
    yield f"@{name}", receiver
    receiver.close()


def test_ready_watchdog_withheld_when_link_dead_then_resumed_and_stopping(
        tmp_path: Path, fresh_mosquitto: MosquittoBroker, notify: tuple[str, NotifySocket]) -> None:
    address, sd = notify
    config = config_dict(tmp_path, url=fresh_mosquitto.url, watchdog_link_grace_s=2)
    (tmp_path / "agent.toml").write_text(tomli_w.dumps(config))
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "NOTIFY_SOCKET": address,
           "WATCHDOG_USEC": "300000"}  # WatchdogSec=0.3 s: a ping every 0.15 s
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-m", "alarmlink_tools.cli", "agent", "run",
                             "--config", str(tmp_path / "agent.toml")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: sd.messages, timeout=30, what="the first notify message")
        assert "READY=1" in sd.messages[0]
        healthy = wait_for(lambda: sd.index_of(
            lambda f: "WATCHDOG=1" in f and status(f).startswith("connected")), timeout=20,
            what="WATCHDOG=1 while connected")
        assert healthy is not None

        fresh_mosquitto.stop()
        down = wait_for(lambda: sd.index_of(lambda f: "link down" in status(f), healthy),
                        what="the link loss reported in STATUS")
        withheld = wait_for(lambda: sd.index_of(lambda f: "withheld" in status(f), down),
                            what="the watchdog withheld")
        assert any("WATCHDOG=1" in f for f in sd.since(down)[: withheld - down]), \
            "pings continue while the link is down for less than the grace"
        wait_for(lambda: len(sd.since(withheld)) >= 8, what="eight more status updates")
        assert not any("WATCHDOG=1" in f for f in sd.since(withheld)[:8]), \
            "WATCHDOG=1 sent although the link was dead longer than its grace"
        assert all("withheld" in status(f) for f in sd.since(withheld)[:8])

        fresh_mosquitto.start()
        back = len(sd.messages)
        wait_for(lambda: sd.index_of(lambda f: "WATCHDOG=1" in f, back), timeout=20,
                 what="WATCHDOG=1 again once the link is back")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        wait_for(lambda: any("STOPPING=1" in f for f in sd.messages), what="STOPPING=1")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_stalled_main_loop_withholds_the_watchdog() -> None:
    now = [100.0]
    agent = SimpleNamespace(device_id="school-01", last_tick_at=100.0, connected=True,
                            outbox=SimpleNamespace(depth=lambda: 0),
                            config=SimpleNamespace(watchdog_link_grace_s=30.0))
    dog = Watchdog(agent, Notifier({}), clock=lambda: now[0])  # type: ignore[arg-type]
    assert dog.health() == (True, "connected; outbox 0")
    now[0] += LOOP_STALL_S + 1  # the loop stopped ticking, the link is still up
    healthy, text = dog.health()
    assert not healthy and "main loop stalled" in text
    agent.last_tick_at = now[0]
    agent.connected = False
    assert dog.health()[0] is True  # link down, within its grace
    now[0] += 31
    agent.last_tick_at = now[0]
    healthy, text = dog.health()
    assert not healthy and "MQTT link down 31 s > watchdog_link_grace_s 30" in text


def test_notifier_speaks_to_path_and_abstract_sockets(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    if len(str(path)) > 100:  # AF_UNIX path limit; use a short directory
        path = Path("/tmp") / f"alarmlink-{uuid.uuid4().hex[:8]}.sock"
    receiver = NotifySocket(str(path))
    try:
        notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "20000000"})
        assert notifier.watchdog_interval_s == 20.0
        assert notifier.ready("hello") and notifier.watchdog()
        wait_for(lambda: len(receiver.messages) == 2, what="two datagrams")
        assert receiver.messages == [["READY=1", "STATUS=hello"], ["WATCHDOG=1"]]
    finally:
        receiver.close()
        path.unlink(missing_ok=True)
    assert Notifier({}).enabled is False and Notifier({}).watchdog() is False
    other = Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000000",
                      "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.enabled and other.watchdog_interval_s is None  # meant for another process
    missing = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert missing.watchdog() is False  # systemd went away: logged once, never raised
