"""Escalation tests: real central (child process), real Mosquitto, a simulated GSM modem
on a pseudo-terminal, stage times shortened by configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fixtures.central import CentralProcess, running_central
from fixtures.mqtt import MqttTestClient
from helpers import device_user

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from simulators.modem import FakeModem

OFFICER, LEADER, COUNTY, OFF_DUTY = ("13900000001", "13900000002", "13900000003",
                                     "13900000004")
USERS = [("officer-zhang", "duty_officer", "station:chengxiang", OFFICER),
         ("leader-wang", "station_leader", "station:chengxiang", LEADER),
         ("county-liu", "county_command", "county:duan", COUNTY),
         ("officer-off", "duty_officer", "station:chengxiang", OFF_DUTY)]


def escalation_toml(port: str, stages: str = "0, 2, 4, 6", extra: str = "",
                    channels: str = '"sms", "call"') -> str:
    s0, s1, s2, s3 = (float(x) for x in stages.split(","))
    return f"""
[escalation]
tick_s = 0.1
backoff_s = 0.2
max_attempts = 2
{extra}
[escalation.policies.alarm]
stages = [
  {{ after_s = {s0}, targets = ["console", "village"], channels = ["sms", "call"] }},
  {{ after_s = {s1}, targets = ["duty"], channels = [{channels}] }},
  {{ after_s = {s2}, targets = ["leader"], channels = ["sms", "call"] }},
  {{ after_s = {s3}, targets = ["county"], channels = ["sms", "call"] }},
]
[modem]
port = "{port}"
timeout_s = 1.0
ring_s = 1.0
listen_s = 0.3
poll_s = 0.2
"""


def add_users(central: CentralProcess) -> None:
    for username, role, node, mobile in USERS:
        central.add_user(username, role, node, mobile=mobile)


def put_on_duty(central: CentralProcess, username: str, duty: str) -> dict[str, Any]:
    now = wire.utcnow()
    return central.api("POST", "/api/roster/shifts", {  # type: ignore[no-any-return]
        "station": "chengxiang", "username": username, "duty": duty,
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=8)).isoformat()})


@pytest.fixture
def fake_modem() -> Iterator[FakeModem]:
    modem = FakeModem().start()
    yield modem
    modem.stop()


Escalating = Callable[..., CentralProcess]


@pytest.fixture
def escalating_central(fresh_mosquitto: MosquittoBroker, tmp_path: Path,
                       fake_modem: FakeModem, central_backend: str,
                       request: pytest.FixtureRequest) -> Iterator[Escalating]:
    """Starts central with the escalation config (``stages``, ``extra``) and the users,
    on SQLite or (``central_backend``) PostgreSQL."""
    stack: list[Any] = []
    pg_url = (str(request.getfixturevalue("pg_url")) if central_backend == "postgresql"
              else None)

    def start(stages: str = "0, 2, 4, 6", extra: str = "",
              channels: str = '"sms", "call"') -> CentralProcess:
        manager = running_central(tmp_path / "central", fresh_mosquitto,
                                  extra=escalation_toml(fake_modem.path, stages, extra,
                                                        channels), pg_url=pg_url)
        central = manager.__enter__()
        stack.append(manager)
        add_users(central)
        return central

    yield start
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


def press(mqtt_test_client: Callable[..., MqttTestClient], broker: MosquittoBroker,
          device: str = "school-01", zone: str = "gate-button",
          kind: wire.Kind = wire.Kind.FIRE, source: wire.Source = wire.Source.GPIO,
          detail: dict[str, Any] | None = None) -> wire.Event:
    client = mqtt_test_client(broker.url, device_user(device))
    event = wire.Event(event_id=wire.new_id(), device_id=device, seq=1, ts=wire.utcnow(),
                       kind=kind, state=wire.State.ALARM, zone=zone, source=source,
                       detail=detail or {})
    client.publish(wire.Topics().event(device), wire.encode(event), wait=5)
    return event
