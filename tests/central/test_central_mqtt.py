"""Against a real Mosquitto: receipts, persistent session, refused login, full app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from central_testkit import DEMO_REGISTRY, TEST_BASE_URL, TOPICS, make_event
from fastapi.testclient import TestClient
from fixtures.auth import add_user, login_testclient
from fixtures.mqtt import MqttTestClient
from helpers import device_user, wait_for
from paho.mqtt.enums import MQTTProtocolVersion
from sqlite_utils import Database

from alarmlink.broker import MosquittoBroker
from alarmlink.wire import Event, Receipt, Stage, decode, encode
from central.api import create_app
from central.config import BrokerConfig, CentralConfig
from central.db import open_db
from central.ingest import Ingestor
from central.mqtt_bridge import MqttBridge
from central.registry import load_registry

pytestmark = pytest.mark.broker
PROTOCOLS = {"mqttv5": MQTTProtocolVersion.MQTTv5, "mqttv311": MQTTProtocolVersion.MQTTv311}


def device(connect: Callable[..., MqttTestClient], broker: MosquittoBroker,
           device_id: str = "school-01", protocol: str = "mqttv5") -> MqttTestClient:
    """A venue device as the broker sees it: its own account, subscribed to its receipts."""
    client = connect(broker.url, device_user(device_id), client_id=f"{device_id}-dev",
                     protocol=PROTOCOLS[protocol])
    assert client.accepted, f"{device_id} was refused"
    client.subscribe(TOPICS.receipt(device_id))
    return client


def send(client: MqttTestClient, event: Event) -> None:
    """Publish ``event`` on the device's own event topic; the broker acknowledges it."""
    info = client.publish(TOPICS.event(client.username), encode(event), wait=10)
    assert info.is_published()


def receipts(client: MqttTestClient) -> list[Receipt]:
    return [decode(Receipt, payload) for _topic, payload in client.received()]


def stages(client: MqttTestClient, event_id: str) -> list[str]:
    return [r.stage.value for r in receipts(client) if r.event_id == event_id]


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
        fresh_mosquitto: MosquittoBroker, db_path: Path,
        mqtt_test_client: Callable[..., MqttTestClient], protocol: str) -> None:
    central = Central(fresh_mosquitto, db_path, protocol).start()
    try:
        assert central.bridge.wait_ready(10), central.bridge.last_error
        school = device(mqtt_test_client, fresh_mosquitto, protocol=protocol)
        event = make_event()
        send(school, event)
        wait_for(lambda: stages(school, event.event_id) == ["stored"], what="stored receipt")
        row = central.db.execute("SELECT device_id, seq FROM events WHERE event_id = ?",
                                 [event.event_id]).fetchone()
        assert row == ("school-01", event.seq)
    finally:
        central.stop()


@pytest.mark.parametrize("protocol", ["mqttv5", "mqttv311"])
def test_events_sent_while_central_is_down_are_stored_exactly_once(
        fresh_mosquitto: MosquittoBroker, db_path: Path,
        mqtt_test_client: Callable[..., MqttTestClient], protocol: str) -> None:
    first = Central(fresh_mosquitto, db_path, protocol).start()
    assert first.bridge.wait_ready(10), first.bridge.last_error
    assert first.bridge.session_present is False
    first.stop()  # central goes down; the broker keeps its session
    school = device(mqtt_test_client, fresh_mosquitto, protocol=protocol)
    events = [make_event() for _ in range(20)]
    for event in events:
        send(school, event)  # the broker has acknowledged each one
    second = Central(fresh_mosquitto, db_path, protocol).start()
    try:
        wait_for(lambda: second.count() == 20, what="20 queued events stored")
        assert second.bridge.session_present is True
        stored = {r[0]: r[1] for r in second.db.execute("SELECT event_id, deliveries FROM events")}
        assert stored == {e.event_id: 1 for e in events}
        wait_for(lambda: all(stages(school, e.event_id) == ["stored"] for e in events),
                 what="a stored receipt for each")
    finally:
        second.stop()


def test_refused_login_is_not_connected(fresh_mosquitto: MosquittoBroker, db_path: Path) -> None:
    central = Central(fresh_mosquitto, db_path, password="wrong").start()
    try:
        wait_for(lambda: central.bridge.last_error, what="the refusal to be reported")
        assert "refused" in (central.bridge.last_error or "")
        assert not central.bridge.connected and not central.bridge.ready
    finally:
        central.stop()


def test_app_acknowledgement_reaches_the_device(
        fresh_mosquitto: MosquittoBroker, db_path: Path,
        mqtt_test_client: Callable[..., MqttTestClient]) -> None:
    config = CentralConfig(db=db_path, registry=DEMO_REGISTRY,
                           broker=broker_config(fresh_mosquitto))
    add_user(db_path)
    with TestClient(create_app(config), base_url=TEST_BASE_URL) as client:
        login_testclient(client)
        wait_for(lambda: client.get("/healthz").json()["mqtt"] == "connected",
                 what="central connected")
        school = device(mqtt_test_client, fresh_mosquitto)
        event = make_event()
        send(school, event)
        wait_for(lambda: client.get("/api/incidents").json(), what="incident")
        response = client.post("/api/incidents/1/acknowledge", json={})
        assert response.status_code == 200
        wait_for(lambda: stages(school, event.event_id) == [Stage.STORED, Stage.ACKNOWLEDGED],
                 what="acknowledged receipt at the device")
        ack = receipts(school)[-1]
        assert ack.by == "officer-li" and ack.incident_id == 1
        # `stored` goes at QoS 0 (a lost one only makes the device resend, deduplicated);
        # an officer's act at QoS 1 (the broker keeps it for a device that is away)
        assert school.qos == [0, 1]
    # health reports a broken broker link
    with TestClient(create_app(config), base_url=TEST_BASE_URL) as client:
        fresh_mosquitto.stop()
        wait_for(lambda: client.get("/healthz").status_code == 503, what="503 without broker")
