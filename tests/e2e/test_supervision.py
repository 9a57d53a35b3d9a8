"""Issue 5, line 4: offline detection, end to end and measured.

Real Mosquitto, central as a real `alarmlink central serve` process, agents as real
`alarmlink agent run` processes on mock GPIO, all devices in the 20 s `fast` class
(heartbeats every 5 s, keepalive 5 s). Two losses run side by side to save time:

* school-01 is SIGKILLed: the kernel closes its socket, the broker publishes its last
  will at once;
* hotel-01 talks to the broker through a TCP proxy that is switched to blackhole
  (tests/e2e/tcp_proxy.py): nothing is forwarded and nothing is closed, so no FIN and no
  RST reach anyone; only keepalives (the broker's, after 1.5 x 5 s) and central's
  heartbeat silence can notice.

The time from each loss to the `device offline` trouble arriving on the station's live
console is measured and asserted <= the class's 20 s bound (the one timing assertion
the issue asks for). Both devices then come back and their troubles are restored.
A third device (village-01, another station) has a dropout shorter than the grace
period (its connection is reset; it reconnects within about a second): it is counted as
a dropout and raises no trouble.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from e2e.harness import ALARMLINK, button_only, write_agent_config
from e2e.tcp_proxy import TcpProxy
from fixtures.broker import running_mosquitto
from fixtures.central import CentralProcess, running_central
from helpers import CENTRAL_ACCOUNTS, device_user, wait_for
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from alarmlink.broker import MosquittoBroker
from central.db import iso
from central.supervision_config import SupervisionConfig

FAST = SupervisionConfig().classes["fast"]
BOUND_S = FAST.bound_s  # 20 s, EN 50136 T6
DEVICES = {"school-01": ("school", "chengxiang"), "hotel-01": ("hotel", "chengxiang"),
           "village-01": ("village", "dading")}
REGISTRY = """
[[counties]]
id = "duan"
name = "Du'an County Public Security Bureau"
[[stations]]
id = "chengxiang"
name = "Chengxiang Police Station"
county = "duan"
[[stations]]
id = "dading"
name = "Dading Police Station"
county = "duan"
""" + "".join(f"""
[[venues]]
id = "{device}"
name = "{kind} {device}"
kind = "{kind}"
station = "{station}"
[[devices]]
id = "{device}"
venue = "{device}"
class = "fast"
""" for device, (kind, station) in DEVICES.items())


class TimedConsole:
    """A station's live console that notes when each pushed message arrived."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self._ws = connect(url, open_timeout=10, additional_headers=headers)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        wait_for(lambda: self.messages, what="the console's snapshot")

    def _read(self) -> None:
        try:
            for raw in self._ws:
                self.messages.append((time.monotonic(), json.loads(raw)))
        except ConnectionClosed:
            pass

    def device_zone(self, device_id: str, state: str) -> tuple[float, dict[str, Any]] | None:
        """The first pushed incident whose zone ``device:<id>`` is in ``state``."""
        for at, message in list(self.messages):
            incident = message.get("incident") or {}
            if incident.get("zones", {}).get(f"device:{device_id}") == state:
                return at, incident
        return None

    def close(self) -> None:
        self._ws.close()
        self._thread.join(5)


class Fleet:
    """Agent processes (`alarmlink agent run`), each optionally behind a TCP proxy."""

    def __init__(self, broker: MosquittoBroker, workdir: Path) -> None:
        self.broker = broker
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.proxies: dict[str, TcpProxy] = {}
        self.configs: dict[str, Path] = {}

    def add(self, device_id: str, *, proxied: bool = False) -> None:
        kind = DEVICES[device_id][0]
        extra: dict[str, object] = {"heartbeat_interval_s": FAST.heartbeat_s,
                                    "broker.keepalive_s": 5, "broker.reconnect_min_s": 1,
                                    "broker.reconnect_max_s": 2}
        if proxied:
            proxy = self.proxies[device_id] = TcpProxy(self.broker.host, self.broker.port)
            extra["broker.url"] = proxy.url
        config = button_only(kind, self.broker, self.workdir / device_id, **extra)
        self.configs[device_id] = write_agent_config(config, self.workdir / f"{device_id}.toml")
        self.start(device_id)

    def start(self, device_id: str) -> None:
        env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
        log = open(self.workdir / f"{device_id}.log", "ab")  # noqa: SIM115 - the child's
        self.procs[device_id] = subprocess.Popen(
            [*ALARMLINK, "agent", "run", "--config", str(self.configs[device_id])], env=env,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def kill(self, device_id: str) -> None:
        proc = self.procs[device_id]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        for proxy in self.proxies.values():
            proxy.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CentralProcess, Fleet]]:
    """A broker, central and three agent processes of this module's own: its devices are
    in a registry of its own, all in the `fast` class."""
    base = tmp_path_factory.mktemp("supervision")
    (base / "registry.toml").write_text(REGISTRY)
    with running_mosquitto([*CENTRAL_ACCOUNTS, *map(device_user, DEVICES)]) as broker, \
            running_central(base / "central", broker,
                            registry=base / "registry.toml") as central:
        fleet = Fleet(broker, base)
        try:
            fleet.add("school-01")
            fleet.add("hotel-01", proxied=True)
            fleet.add("village-01", proxied=True)
            wait_for(lambda: all(d["state"] == "online" and d["last_heartbeat"]
                                 for d in central.api("GET", "/api/devices")),
                     timeout=30, what="three devices online with heartbeats")
            yield central, fleet
        finally:
            fleet.close()


def board(central: CentralProcess, device_id: str) -> dict[str, Any]:
    return next(d for d in central.api("GET", "/api/devices") if d["device_id"] == device_id)


def test_sigkill_and_silent_network_loss_each_raise_device_offline_within_the_bound(
        world: tuple[CentralProcess, Fleet]) -> None:
    central, fleet = world
    console = TimedConsole(f"{central.ws_url}?station=chengxiang", central.ws_headers)
    try:
        killed_at = time.monotonic()
        fleet.kill("school-01")
        blackholed_at = time.monotonic()
        fleet.proxies["hotel-01"].blackhole()

        arrived, killed = wait_for(lambda: console.device_zone("school-01", "offline"),
                                   timeout=BOUND_S + 15, what="school-01 offline trouble")
        arrived_b, holed = wait_for(lambda: console.device_zone("hotel-01", "offline"),
                                    timeout=BOUND_S + 15, what="hotel-01 offline trouble")
        kill_s, hole_s = arrived - killed_at, arrived_b - blackholed_at
        reasons = [json.loads(r["detail"])["reason"] for r in central.rows(
            "SELECT detail FROM incident_log WHERE action = 'device offline' ORDER BY id")]
        print(f"\nmeasured: SIGKILL -> trouble {kill_s:.1f} s, blackhole -> trouble "
              f"{hole_s:.1f} s (bound {BOUND_S:g} s); reasons: {reasons}")
        assert kill_s <= BOUND_S, f"SIGKILL: trouble after {kill_s:.1f} s > {BOUND_S} s"
        assert hole_s <= BOUND_S, f"blackhole: trouble after {hole_s:.1f} s > {BOUND_S} s"
        for incident in (killed, holed):
            assert incident["category"] == "trouble" and incident["station_id"] == "chengxiang"
            assert "device_offline" in incident["kinds"]
        assert board(central, "school-01")["down_reason"] == "offline"  # the last will
        assert board(central, "hotel-01")["down_reason"] in ("offline", "silent")
        alarms = central.rows("SELECT count(*) AS n FROM incidents WHERE category = 'alarm'")
        assert alarms[0]["n"] == 0

        fleet.start("school-01")
        fleet.proxies["hotel-01"].restore()
        for device_id in ("school-01", "hotel-01"):
            _at, restored = wait_for(lambda d=device_id: console.device_zone(d, "restored"),
                                     timeout=30, what=f"{device_id} restored")
            assert restored["status"] == "new", "restored, still for an officer to resolve"
            wait_for(lambda d=device_id: board(central, d)["state"] == "online",
                     what=f"{device_id} online on the board")
    finally:
        console.close()


def test_dropout_shorter_than_the_grace_raises_no_trouble(
        world: tuple[CentralProcess, Fleet]) -> None:
    central, fleet = world
    before = board(central, "village-01")["dropouts"]
    cut_at = datetime.now(UTC)
    fleet.proxies["village-01"].cut()  # RST both ways: last will now, reconnect in ~1 s

    def counted() -> dict[str, Any] | None:
        device = board(central, "village-01")
        return device if device["dropouts"] > before and device["state"] == "online" else None

    after = wait_for(counted, timeout=FAST.grace_s, what="a dropout counted, device online")
    assert 0 < after["last_dropout_s"] < FAST.grace_s
    # A supervision check must have run after the moment a trouble would have been due.
    due = iso(cut_at + timedelta(seconds=FAST.grace_s + 1))
    wait_for(lambda: (board(central, "village-01")["checked_at"] or "") > due,
             timeout=FAST.grace_s + 10, interval=0.25, what="a check past the grace period")
    troubles = central.rows("SELECT * FROM incidents WHERE venue_id = 'village-01'")
    assert troubles == [], "a dropout under the grace period flapped a trouble"
