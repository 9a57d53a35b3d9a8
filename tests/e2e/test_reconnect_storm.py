"""Issue 17, line 2 in small: a broker restart under a fleet raises no false trouble, every
device is back online at central, and an alarm raised in the storm is stored and pushed.

Real Mosquitto, central as a real `alarmlink central serve` process, 200 devices of the
fleet simulator (simulators/fleet.py: each its own account and connection, the agent's
jittered reconnects and heartbeats) in the 20 s `fast` class (grace 5 s). The broker is
stopped for longer than the grace: stopping, it publishes every device's last will, which
before this change became 200 `device offline` troubles 5 s later, while central itself
could not hear anybody. The bench (bench/latency.py --restarts) does the same at 10,000.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from e2e.conftest import Console
from fixtures.broker import running_mosquitto
from fixtures.central import REGISTRY, CentralProcess, running_central
from fixtures.mqtt import MqttTestClient
from helpers import CENTRAL_ACCOUNTS, device_user, wait_for

from alarmlink import wire
from alarmlink.broker import BrokerUser, MosquittoBroker
from central.db import iso
from central.supervision_config import SupervisionConfig
from simulators.fleet import Fleet, FleetPlan

FAST = SupervisionConfig().classes["fast"]
FLEET = [f"storm-{i:03d}" for i in range(200)]


@pytest.fixture
def storm(tmp_path: Path) -> Iterator[tuple[MosquittoBroker, CentralProcess, Fleet]]:
    registry = tmp_path / "registry.toml"
    registry.write_text(REGISTRY.read_text() + "".join(
        f'\n[[devices]]\nid = "{d}"\nvenue = "village-01"\nclass = "fast"\nzones = ["z1"]\n'
        for d in FLEET))
    users = [*CENTRAL_ACCOUNTS, device_user("school-01"),
             *(BrokerUser(d, f"pw-{d}") for d in FLEET)]
    with running_mosquitto(users) as broker, \
            running_central(tmp_path / "central", broker, registry=registry) as central:
        fleet = Fleet(FleetPlan(url=broker.url, heartbeat_s=FAST.heartbeat_s, mode="agent",
                                reconnect_min_s=0.5, reconnect_max_s=2.0),
                      [(d, f"pw-{d}") for d in FLEET], processes=1)
        fleet.start()
        try:
            yield broker, central, fleet
        finally:
            fleet.close()


def online_since(central: CentralProcess, since: str) -> set[str]:
    return {d["device_id"] for d in central.api("GET", "/api/devices")
            if d["device_id"] in FLEET and d["online"] and (d["last_seen"] or "") >= since}


@pytest.mark.broker
def test_broker_restart_raises_no_false_trouble_and_an_alarm_in_the_storm_arrives(
        storm: tuple[MosquittoBroker, CentralProcess, Fleet]) -> None:
    broker, central, fleet = storm
    wait_for(lambda: len(online_since(central, "")) == len(FLEET), timeout=60,
             what="the fleet online at central")
    console = Console(f"{central.ws_url}?station=chengxiang", central.ws_headers)
    try:
        broker.stop()  # publishes every device's will, then drops everyone, central too
        time.sleep(FAST.grace_s + 1)  # the outage itself: longer than the grace
        broker.start()
        restarted = wire.utcnow()
        since = iso(restarted)

        school = MqttTestClient(broker.url, "school-01", "school-01-pw")  # in the storm
        try:
            event = wire.Event(event_id=wire.new_id(), device_id="school-01", seq=1,
                               ts=wire.utcnow(), kind=wire.Kind.PANIC, state=wire.State.ALARM,
                               zone="gate-button", source=wire.Source.GPIO)
            assert school.accepted
            assert school.publish(wire.Topics().event("school-01"), wire.encode(event)).rc == 0
            pushed = wait_for(lambda: next(
                (i for i in console.incidents() if i["first_event_id"] == event.event_id),
                None), timeout=30, what="the storm's alarm pushed to the console")
        finally:
            school.close()
        assert pushed["category"] == "alarm" and pushed["station_id"] == "chengxiang"
        assert central.rows("SELECT 1 FROM events WHERE event_id = ?", (event.event_id,))

        wait_for(lambda: online_since(central, since) == set(FLEET), timeout=60,
                 interval=1.0, what="every device back online at central")
        # a supervision check past the grace of every will (the stopping broker's, and
        # those central's session delivers again after the restart) has run: no trouble
        past = iso(restarted + timedelta(seconds=FAST.grace_s + 2))
        wait_for(lambda: (central.api("GET", "/api/devices")[0]["checked_at"] or "") >= past,
                 timeout=60, interval=0.5, what="a supervision check past the storm")
        troubles = central.rows("SELECT zones FROM incidents WHERE category = 'trouble'")
        assert [t["zones"] for t in troubles] == [], "a broker restart raised false troubles"
        boards = [d for d in central.api("GET", "/api/devices") if d["device_id"] in FLEET]
        assert all(d["state"] == "online" for d in boards)
    finally:
        console.close()
