"""The generated Mosquitto configuration, against the real broker: auth, ACL, limits.
Each test has a broker of its own (``fresh_mosquitto``): these check its accounts and ACL."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from pathlib import Path

import pytest
from fixtures.mqtt import MqttTestClient
from helpers import CENTRAL_USER, device_user, wait_for

from alarmlink.broker import (
    BROKER_USER,
    MAX_QUEUED_MESSAGES,
    BrokerUser,
    MosquittoBroker,
    render_config,
)
from alarmlink.wire import Topics

topics = Topics()


Connect = Callable[..., MqttTestClient]


def test_device_publishes_only_under_its_own_topics(fresh_mosquitto: MosquittoBroker,
                                                    mqtt_test_client: Connect) -> None:
    central = mqtt_test_client(fresh_mosquitto.url, CENTRAL_USER)
    central.subscribe(f"{topics.prefix}/#")
    device = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
    device.publish(topics.event("hotel-01"), b"spoofed", wait=5)
    device.publish(topics.event("school-01"), b"mine", wait=5)
    wait_for(lambda: central.messages, what="the device's own event at central")
    assert central.messages == [(topics.event("school-01"), b"mine")]


def test_device_cannot_read_other_devices_commands(fresh_mosquitto: MosquittoBroker,
                                                   mqtt_test_client: Connect) -> None:
    """Mosquitto may grant the SUBACK, but never delivers what the ACL forbids reading."""
    snoop = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
    snoop.subscribe(topics.cmd("hotel-01"))
    snoop.subscribe(topics.all_devices("event"))
    snoop.subscribe(topics.cmd("school-01"))
    hotel = mqtt_test_client(fresh_mosquitto.url, device_user("hotel-01"))
    hotel.subscribe(topics.cmd("hotel-01"))
    central = mqtt_test_client(fresh_mosquitto.url, CENTRAL_USER)
    central.publish(topics.cmd("hotel-01"), b"for hotel", wait=5)
    hotel.publish(topics.event("hotel-01"), b"hotel event", wait=5)
    wait_for(lambda: hotel.messages, what="the hotel's own command")
    # a marker the snoop may read, published last: once it arrives, anything
    # forbidden that had been delivered would already be there (per-session order)
    central.publish(topics.cmd("school-01"), b"marker", wait=5)
    wait_for(lambda: snoop.messages, what="marker on the snoop's own cmd topic")
    assert snoop.messages == [(topics.cmd("school-01"), b"marker")]


def test_wrong_password_and_unknown_user_are_refused(fresh_mosquitto: MosquittoBroker,
                                                     mqtt_test_client: Connect) -> None:
    for user in (BrokerUser("school-01", "wrong"), BrokerUser("nobody", "x"),
                 BrokerUser("", "")):
        client = mqtt_test_client(fresh_mosquitto.url, user)
        assert client.connack[0].is_failure, user.username
        client.close()


def test_config_raises_queue_limit_and_persists(tmp_path: Path) -> None:
    conf = render_config(port=1, data_dir=tmp_path, password_file=tmp_path / "p",
                         acl_file=tmp_path / "a")
    assert f"max_queued_messages {MAX_QUEUED_MESSAGES}" in conf
    assert MAX_QUEUED_MESSAGES > 1000
    assert "persistence true" in conf
    assert "allow_anonymous false" in conf


def test_password_file_is_private_and_hashed(fresh_mosquitto: MosquittoBroker) -> None:
    passwd = fresh_mosquitto.workdir / "passwd"
    assert passwd.stat().st_mode & 0o077 == 0
    if os.geteuid() == 0:  # Mosquitto drops root: the file must be its user's
        assert passwd.stat().st_uid == pwd.getpwnam(BROKER_USER).pw_uid
    text = passwd.read_text()
    assert "central-test-pw" not in text and "central:" in text


def test_new_device_added_without_dropping_connected_clients(
        fresh_mosquitto: MosquittoBroker, mqtt_test_client: Connect) -> None:
    central = mqtt_test_client(fresh_mosquitto.url, CENTRAL_USER)
    central.subscribe(topics.all_devices("event"))
    newcomer = BrokerUser("late-01", "late-01-pw")
    fresh_mosquitto.add_users([newcomer])
    device = wait_for(lambda: _connects(mqtt_test_client, fresh_mosquitto, newcomer),
                      what="new account accepted")
    device.publish(topics.event("late-01"), b"hello", wait=None)
    wait_for(lambda: central.messages, what="event from the new device")
    assert central.connack == [central.connack[0]] and not central.connack[0].is_failure


def _connects(connect: Connect, broker: MosquittoBroker,
              user: BrokerUser) -> MqttTestClient | None:
    client = connect(broker.url, user)
    if client.connack[0].is_failure:
        client.close()
        return None
    return client


@pytest.mark.parametrize("channel", ["event", "status", "heartbeat", "cmd/result"])
def test_device_may_publish_each_upstream_channel(fresh_mosquitto: MosquittoBroker,
                                                  mqtt_test_client: Connect,
                                                  channel: str) -> None:
    central = mqtt_test_client(fresh_mosquitto.url, CENTRAL_USER)
    central.subscribe(topics.all_devices(channel))
    device = mqtt_test_client(fresh_mosquitto.url, device_user("village-01"))
    device.publish(topics.device("village-01", channel), b"x", wait=None)
    wait_for(lambda: central.messages, what=channel)
