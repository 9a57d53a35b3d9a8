"""alarmlink.mqtt against a real Mosquitto: refusals, backoff, last will, routing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from helpers import CENTRAL_USER, wait_for

from alarmlink.broker import MosquittoBroker, free_port
from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.mqtt import Availability, MqttClient, MqttConnectError, connect_client
from alarmlink.mqtt.reasons import Backoff
from alarmlink.wire import Topics

pytestmark = pytest.mark.broker
TOPICS = Topics()


def config(url: str, username: str = "school-01", **overrides: Any) -> BrokerConfig:
    fields: dict[str, Any] = {"url": url, "username": username,
                              "password": f"{username}-pw", "reconnect_min_s": 1,
                              "reconnect_max_s": 2}
    if username == "central":
        fields["password"] = CENTRAL_USER.password
    fields.update(overrides)
    return BrokerConfig(**fields)


class Recorder:
    """Collects (topic, payload) from a handler, thread safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[str, bytes]] = []

    def __call__(self, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.items.append((message.topic, bytes(message.payload)))

    def payloads(self) -> list[bytes]:
        with self.lock:
            return [payload for _topic, payload in self.items]


class RecordingBackoff(Backoff):
    """Notes when each failure happened and the wait chosen after it."""

    def __init__(self, min_s: float, max_s: float) -> None:
        super().__init__(min_s, max_s)
        self.calls: list[tuple[float, float]] = []

    def next_delay(self) -> float:
        delay = super().next_delay()
        self.calls.append((time.monotonic(), delay))
        return delay


@pytest.fixture
def clients() -> Iterator[list[MqttClient]]:
    made: list[MqttClient] = []
    yield made
    for client in made:
        client.stop(timeout=1)


def started(clients: list[MqttClient], client: MqttClient) -> MqttClient:
    clients.append(client)
    client.start()
    return client


@pytest.mark.parametrize("protocol", ["mqttv5", "mqttv311"])
def test_refused_connect_has_a_readable_cause_and_never_counts_as_connected(
        fresh_mosquitto: MosquittoBroker, clients: list[MqttClient], protocol: str) -> None:
    ups: list[str] = []
    backoff = Backoff(1, 2)
    client = started(clients, MqttClient(
        config(fresh_mosquitto.url, password="wrong", protocol=protocol), backoff=backoff,
        on_connected=lambda: ups.append("up")))
    wait_for(lambda: backoff.attempts >= 2, what="a second refused attempt")
    assert not client.connected and not client.ready and client.connect_count == 0
    assert ups == []
    assert client.last_error is not None
    assert "refused the connection: not authorised" in client.last_error
    assert "check broker.username and the password" in client.last_error
    with pytest.raises(MqttConnectError, match="refused school-01: not authorised"):
        connect_client(config(fresh_mosquitto.url, password="wrong", protocol=protocol), timeout=5)


def test_reconnect_waits_follow_the_jittered_backoff(clients: list[MqttClient]) -> None:
    backoff = RecordingBackoff(1, 2)
    client = started(clients, MqttClient(config(f"mqtt://127.0.0.1:{free_port()}"),
                                         backoff=backoff))
    wait_for(lambda: len(backoff.calls) >= 4, timeout=15, what="four failed attempts")
    assert not client.connected and "cannot reach" in (client.last_error or "")
    for (at, delay), (next_at, _next_delay) in pairwise(list(backoff.calls)):
        assert 0.8 <= delay <= 2  # ±20 % jitter, never above max_s
        assert delay - 0.05 <= next_at - at <= delay + 0.75, (delay, next_at - at)


def test_last_will_on_a_dropped_link_then_online_again_and_stopped_on_a_clean_stop(
        fresh_mosquitto: MosquittoBroker, clients: list[MqttClient]) -> None:
    statuses = Recorder()
    observer = MqttClient(config(fresh_mosquitto.url, "central"), client_id="observer", clean=True)
    observer.subscribe(TOPICS.status("school-01"), statuses)
    started(clients, observer)
    assert observer.wait_ready(10), observer.last_error
    events: list[str] = []
    device = started(clients, MqttClient(
        config(fresh_mosquitto.url),
        availability=Availability(TOPICS.status("school-01"), online=lambda: b"online",
                                  offline=lambda: b"offline", stopped=lambda: b"stopped"),
        on_connected=lambda: events.append("up"),
        on_disconnected=lambda: events.append("down")))
    wait_for(lambda: statuses.payloads() == [b"online"], what="online")
    sock = device.paho.socket()
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)  # the link dies without a DISCONNECT
    wait_for(lambda: statuses.payloads() == [b"online", b"offline", b"online"],
             what="the last will, then online after the reconnect")
    assert device.stop(timeout=5) is True
    wait_for(lambda: statuses.payloads()[-1:] == [b"stopped"], what="stopped")
    assert events == ["up", "down", "up", "down"] and device.connect_count == 2


def test_handlers_per_topic_filter_and_publish_returns_message_info(
        fresh_mosquitto: MosquittoBroker, clients: list[MqttClient]) -> None:
    receipts, commands = Recorder(), Recorder()
    device = MqttClient(config(fresh_mosquitto.url))
    device.subscribe(TOPICS.receipt("school-01"), receipts)
    device.subscribe(TOPICS.cmd("school-01"), commands)
    started(clients, device)
    assert device.wait_ready(10), device.last_error
    central = connect_client(config(fresh_mosquitto.url, "central"), client_id="t-central")
    try:
        central.publish(TOPICS.receipt("school-01"), b"r1", qos=1).wait_for_publish(5)
        central.publish(TOPICS.cmd("school-01"), b"c1", qos=1).wait_for_publish(5)
        wait_for(lambda: receipts.payloads() and commands.payloads(), what="both messages")
        assert receipts.payloads() == [b"r1"] and commands.payloads() == [b"c1"]
    finally:
        central.disconnect()
        central.loop_stop()
    info = device.publish(TOPICS.event("school-01"), b"e1", qos=1)
    info.wait_for_publish(5)
    assert info.is_published() and info.mid > 0


def test_persistent_session_keeps_what_arrived_while_stopped(
        fresh_mosquitto: MosquittoBroker, clients: list[MqttClient]) -> None:
    commands = Recorder()
    device = MqttClient(config(fresh_mosquitto.url, protocol="mqttv311"))
    device.subscribe(TOPICS.cmd("school-01"), commands)
    started(clients, device)
    assert device.wait_ready(10) and device.session_present is False
    device.stop()
    central = connect_client(config(fresh_mosquitto.url, "central"), client_id="t-central")
    try:
        central.publish(TOPICS.cmd("school-01"), b"queued", qos=1).wait_for_publish(5)
    finally:
        central.disconnect()
        central.loop_stop()
    device.start()
    wait_for(lambda: commands.payloads() == [b"queued"], what="the queued command")
    assert device.session_present is True


def test_unreachable_broker_names_the_real_cause(clients: list[MqttClient]) -> None:
    """Not just "cannot reach": the refused port and the unknown name, with the fix."""
    refused = started(clients, MqttClient(config(f"mqtt://127.0.0.1:{free_port()}")))
    unknown = started(clients, MqttClient(config("mqtt://no-such-broker.invalid:1883")))
    wait_for(lambda: "nothing listens on 127.0.0.1" in (refused.last_error or ""),
             what="the refused port named")
    assert "is the broker running" in (refused.last_error or "")
    wait_for(lambda: "does not resolve" in (unknown.last_error or ""), timeout=20,
             what="the unresolvable name named")


def test_two_clients_with_one_account_are_named_a_takeover_loop(
        fresh_mosquitto: MosquittoBroker, clients: list[MqttClient]) -> None:
    """The broker binds the client id to the account: two clients with one account throw
    each other off. Mosquitto 2.0.11 sends no 0x8E, so the repeated short connections
    are what names it."""
    first = started(clients, MqttClient(config(fresh_mosquitto.url)))
    first.wait_connected(10)
    second = started(clients, MqttClient(config(fresh_mosquitto.url)))
    wait_for(lambda: any("another client logs in as school-01" in (c.last_error or "")
                         for c in (first, second)), timeout=60, what="the takeover loop named")


def test_a_persistent_session_is_not_sent_the_retained_statuses_again_on_reconnect(
        fresh_mosquitto: MosquittoBroker, clients: list[MqttClient]) -> None:
    """MQTT 5 retain handling: central's persistent session gets each device's retained
    status once, not again after every reconnect (after a broker restart that was 10,000
    messages ahead of the fresh ones); a new session still gets them."""
    device = connect_client(config(fresh_mosquitto.url), client_id="school-01")
    try:
        device.publish(TOPICS.status("school-01"), b"online", qos=1,
                       retain=True).wait_for_publish(5)
        statuses = Recorder()
        central = MqttClient(config(fresh_mosquitto.url, "central"), clean=False)
        # QoS 0: a QoS 1 delivery cut before its PUBACK would be redelivered to the
        # session (as MQTT requires), which is not the retained resend this test looks for
        central.subscribe(TOPICS.all_devices("status"), statuses, qos=0)
        started(clients, central)
        wait_for(lambda: statuses.payloads() == [b"online"], what="the retained status")
        sock = central.paho.socket()
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)  # dropped: it reconnects to its session
        wait_for(lambda: central.connect_count == 2 and central.ready, timeout=15,
                 what="central back, subscribed again")
        assert central.session_present is True
        device.publish(TOPICS.status("school-01"), b"marker", qos=1).wait_for_publish(5)
        wait_for(lambda: b"marker" in statuses.payloads(), what="the fresh message")
        assert statuses.payloads() == [b"online", b"marker"], "retained sent again"
    finally:
        device.disconnect()
        device.loop_stop()
    fresh = Recorder()
    observer = MqttClient(config(fresh_mosquitto.url, "central"), client_id="observer",
                          clean=True)
    observer.subscribe(TOPICS.all_devices("status"), fresh)
    started(clients, observer)
    wait_for(lambda: fresh.payloads() == [b"online"], what="a new session gets it")
