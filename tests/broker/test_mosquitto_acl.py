"""The generated Mosquitto configuration, against the real broker: auth, ACL, limits."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from helpers import CENTRAL_USER, device_user, wait_for

from alarmlink.broker import MAX_QUEUED_MESSAGES, BrokerUser, MosquittoBroker, render_config
from alarmlink.mqtt import paho_client
from alarmlink.wire import Topics

topics = Topics()


class Client:
    """A minimal paho client that records what it receives and how it connected."""

    def __init__(self, broker: MosquittoBroker, user: BrokerUser) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.connack: list[mqtt.ReasonCode] = []
        self.granted: dict[int, list[mqtt.ReasonCode]] = {}
        self.lock = threading.Lock()
        self.client = paho_client(client_id=f"t-{user.username}")
        self.client.username_pw_set(user.username, user.password)
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.append(rc)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.granted.__setitem__(mid, rcs)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        wait_for(lambda: self.connack, what=f"CONNACK for {user.username}")

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload))

    def subscribe(self, topic: str) -> list[mqtt.ReasonCode]:
        _, mid = self.client.subscribe(topic, qos=1)
        return wait_for(lambda: self.granted.get(mid), what=f"SUBACK {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_device_publishes_only_under_its_own_topics(mosquitto: MosquittoBroker) -> None:
    central = Client(mosquitto, CENTRAL_USER)
    central.subscribe(f"{topics.prefix}/#")
    device = Client(mosquitto, device_user("school-01"))
    device.client.publish(topics.event("hotel-01"), b"spoofed", qos=1).wait_for_publish(5)
    device.client.publish(topics.event("school-01"), b"mine", qos=1).wait_for_publish(5)
    wait_for(lambda: central.messages, what="the device's own event at central")
    assert central.messages == [(topics.event("school-01"), b"mine")]
    central.close()
    device.close()


def test_device_cannot_read_other_devices_commands(mosquitto: MosquittoBroker) -> None:
    """Mosquitto may grant the SUBACK, but never delivers what the ACL forbids reading."""
    snoop = Client(mosquitto, device_user("school-01"))
    snoop.subscribe(topics.cmd("hotel-01"))
    snoop.subscribe(topics.all_devices("event"))
    snoop.subscribe(topics.cmd("school-01"))
    hotel = Client(mosquitto, device_user("hotel-01"))
    hotel.subscribe(topics.cmd("hotel-01"))
    central = Client(mosquitto, CENTRAL_USER)
    central.client.publish(topics.cmd("hotel-01"), b"for hotel", qos=1).wait_for_publish(5)
    hotel.client.publish(topics.event("hotel-01"), b"hotel event", qos=1).wait_for_publish(5)
    wait_for(lambda: hotel.messages, what="the hotel's own command")
    # a marker the snoop may read, published last: once it arrives, anything
    # forbidden that had been delivered would already be there (per-session order)
    central.client.publish(topics.cmd("school-01"), b"marker", qos=1).wait_for_publish(5)
    wait_for(lambda: snoop.messages, what="marker on the snoop's own cmd topic")
    assert snoop.messages == [(topics.cmd("school-01"), b"marker")]
    for client in (snoop, hotel, central):
        client.close()


def test_wrong_password_and_unknown_user_are_refused(mosquitto: MosquittoBroker) -> None:
    for user in (BrokerUser("school-01", "wrong"), BrokerUser("nobody", "x"),
                 BrokerUser("", "")):
        client = Client(mosquitto, user)
        assert client.connack[0].is_failure, user.username
        client.close()


def test_config_raises_queue_limit_and_persists(tmp_path: Path) -> None:
    conf = render_config(port=1, data_dir=tmp_path, password_file=tmp_path / "p",
                         acl_file=tmp_path / "a")
    assert f"max_queued_messages {MAX_QUEUED_MESSAGES}" in conf
    assert MAX_QUEUED_MESSAGES > 1000
    assert "persistence true" in conf
    assert "allow_anonymous false" in conf


def test_password_file_is_private_and_hashed(mosquitto: MosquittoBroker) -> None:
    passwd = mosquitto.workdir / "passwd"
    assert passwd.stat().st_mode & 0o077 == 0
    text = passwd.read_text()
    assert "central-test-pw" not in text and "central:" in text


def test_new_device_added_without_dropping_connected_clients(mosquitto: MosquittoBroker) -> None:
    central = Client(mosquitto, CENTRAL_USER)
    central.subscribe(topics.all_devices("event"))
    newcomer = BrokerUser("late-01", "late-01-pw")
    mosquitto.add_users([newcomer])
    device = wait_for(lambda: _connects(mosquitto, newcomer), what="new account accepted")
    device.client.publish(topics.event("late-01"), b"hello", qos=1)
    wait_for(lambda: central.messages, what="event from the new device")
    assert central.connack == [central.connack[0]] and not central.connack[0].is_failure
    device.close()
    central.close()


def _connects(broker: MosquittoBroker, user: BrokerUser) -> Client | None:
    client = Client(broker, user)
    if client.connack[0].is_failure:
        client.close()
        return None
    return client


@pytest.mark.parametrize("channel", ["event", "status", "heartbeat", "cmd/result"])
def test_device_may_publish_each_upstream_channel(mosquitto: MosquittoBroker,
                                                  channel: str) -> None:
    central = Client(mosquitto, CENTRAL_USER)
    central.subscribe(topics.all_devices(channel))
    device = Client(mosquitto, device_user("village-01"))
    device.client.publish(topics.device("village-01", channel), b"x", qos=1)
    wait_for(lambda: central.messages, what=channel)
    central.close()
    device.close()
