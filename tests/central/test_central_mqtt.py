"""Against a real Mosquitto: receipts, persistent session, refused login, full app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from central_testkit import DEMO_REGISTRY, TOPICS, make_event
from fastapi.testclient import TestClient
from helpers import wait_for
from sqlite_utils import Database

from alarmlink.broker import MosquittoBroker
from alarmlink.mqtt import paho_client
from alarmlink.wire import Event, Receipt, Stage, decode, encode
from central.api import create_app
from central.config import BrokerConfig, CentralConfig
from central.db import open_db
from central.ingest import Ingestor
from central.mqtt_bridge import MqttBridge
from central.registry import load_registry

pytestmark = pytest.mark.broker


class Device:
    """A venue device as the broker sees it: its own account, its receipt topic."""

    def __init__(self, broker: MosquittoBroker, device_id: str = "school-01",
                 protocol: str = "mqttv5") -> None:
        self.device_id = device_id
        self.receipts: list[Receipt] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho_client(client_id=f"{device_id}-dev", protocol=protocol)
        self.client.username_pw_set(device_id, f"{device_id}-pw")
        self.client.on_connect = lambda c, *_: c.subscribe(TOPICS.receipt(device_id), qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "device could not subscribe to its receipts"

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.receipts.append(decode(Receipt, bytes(message.payload)))

    def send(self, event: Event) -> None:
        info = self.client.publish(TOPICS.event(self.device_id), encode(event), qos=1)
        info.wait_for_publish(10)
        assert info.is_published()

    def stages(self, event_id: str) -> list[str]:
        with self._lock:
            return [r.stage.value for r in self.receipts if r.event_id == event_id]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def devices(mosquitto: MosquittoBroker) -> Iterator[list[Device]]:
    made: list[Device] = []
    yield made
    for device in made:
        device.close()


def broker_config(broker: MosquittoBroker, protocol: str = "mqttv5",
                  password: str = "central-test-pw") -> BrokerConfig:
    return BrokerConfig(url=broker.url, username="central", password=password,
                        protocol=protocol, reconnect_max_s=2)  # type: ignore[arg-type]


class Central:
    """Ingestor + bridge on one database file, as ``central serve`` runs them."""

    def __init__(self, broker: MosquittoBroker, db_path: Path, protocol: str = "mqttv5",
                 password: str = "central-test-pw") -> None:
        self.db: Database = open_db(db_path)
        load_registry(self.db, DEMO_REGISTRY)
        self.bridge = MqttBridge(broker_config(broker, protocol, password),
                                 Ingestor(self.db, TOPICS, self._publish))

    def _publish(self, topic: str, payload: bytes) -> None:
        self.bridge.publish(topic, payload)

    def start(self) -> Central:
        self.bridge.start()
        return self

    def stop(self) -> None:
        self.bridge.stop()
        self.db.close()

    def count(self, sql: str = "SELECT count(*) FROM events") -> int:
        return int(self.db.execute(sql).fetchone()[0])


@pytest.mark.parametrize("protocol", ["mqttv5", "mqttv311"])
def test_event_from_device_is_stored_and_receipted(
        mosquitto: MosquittoBroker, db_path: Path, devices: list[Device], protocol: str) -> None:
    central = Central(mosquitto, db_path, protocol).start()
    try:
        assert central.bridge.wait_ready(10), central.bridge.last_error
        devices.append(Device(mosquitto, protocol=protocol))
        event = make_event()
        devices[0].send(event)
        wait_for(lambda: devices[0].stages(event.event_id) == ["stored"], what="stored receipt")
        row = central.db.execute("SELECT device_id, seq FROM events WHERE event_id = ?",
                                 [event.event_id]).fetchone()
        assert row == ("school-01", event.seq)
    finally:
        central.stop()


@pytest.mark.parametrize("protocol", ["mqttv5", "mqttv311"])
def test_events_sent_while_central_is_down_are_stored_exactly_once(
        mosquitto: MosquittoBroker, db_path: Path, devices: list[Device], protocol: str) -> None:
    first = Central(mosquitto, db_path, protocol).start()
    assert first.bridge.wait_ready(10), first.bridge.last_error
    assert first.bridge.session_present is False
    first.stop()  # central goes down; the broker keeps its session
    devices.append(Device(mosquitto, protocol=protocol))
    events = [make_event() for _ in range(20)]
    for event in events:
        devices[0].send(event)  # the broker has acknowledged each one
    second = Central(mosquitto, db_path, protocol).start()
    try:
        wait_for(lambda: second.count() == 20, what="20 queued events stored")
        assert second.bridge.session_present is True
        stored = {r[0]: r[1] for r in second.db.execute("SELECT event_id, deliveries FROM events")}
        assert stored == {e.event_id: 1 for e in events}
        wait_for(lambda: all(devices[0].stages(e.event_id) == ["stored"] for e in events),
                 what="a stored receipt for each")
    finally:
        second.stop()


def test_refused_login_is_not_connected(mosquitto: MosquittoBroker, db_path: Path) -> None:
    central = Central(mosquitto, db_path, password="wrong").start()
    try:
        wait_for(lambda: central.bridge.last_error, what="the refusal to be reported")
        assert "refused" in (central.bridge.last_error or "")
        assert not central.bridge.connected and not central.bridge.ready
    finally:
        central.stop()


def test_app_acknowledgement_reaches_the_device(
        mosquitto: MosquittoBroker, db_path: Path, devices: list[Device]) -> None:
    config = CentralConfig(db=db_path, registry=DEMO_REGISTRY, broker=broker_config(mosquitto))
    with TestClient(create_app(config)) as client:
        wait_for(lambda: client.get("/healthz").json()["mqtt"] == "connected",
                 what="central connected")
        devices.append(Device(mosquitto))
        event = make_event()
        devices[0].send(event)
        wait_for(lambda: client.get("/api/incidents").json(), what="incident")
        response = client.post("/api/incidents/1/acknowledge", json={"actor": "officer-li"})
        assert response.status_code == 200
        wait_for(lambda: devices[0].stages(event.event_id) == [Stage.STORED,
                                                              Stage.ACKNOWLEDGED],
                 what="acknowledged receipt at the device")
        ack = devices[0].receipts[-1]
        assert ack.by == "officer-li" and ack.incident_id == 1
    with TestClient(create_app(config)) as client:  # health reports a broken broker link
        mosquitto.stop()
        wait_for(lambda: client.get("/healthz").status_code == 503, what="503 without broker")
