"""The demo's embedded amqtt broker (``alarmlink demo --embedded-broker``, where Mosquitto
is missing): the device ACL matches Mosquitto's (a device reads its own ``rtc`` topic, so
live video works in the demo too), and a free port taken by another program before the
broker binds it is replaced by another one, not a failed demo."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fixtures.mqtt import MqttTestClient
from fixtures.ports import worker_free_port
from helpers import CENTRAL_USER, device_user, wait_for

from alarmlink.broker import BrokerError
from alarmlink.wire import Topics
from alarmlink_tools import embedded_broker
from alarmlink_tools.embedded_broker import EmbeddedBroker

topics = Topics()
Connect = Callable[..., MqttTestClient]


@pytest.fixture
def taken() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_port_taken_meanwhile_is_replaced(taken: int, monkeypatch: pytest.MonkeyPatch,
                                            mqtt_test_client: Connect) -> None:
    picks = iter([taken, taken])   # the pick at start, then once more
    monkeypatch.setattr(embedded_broker, "free_port",
                        lambda: next(picks, None) or worker_free_port())
    broker = EmbeddedBroker([CENTRAL_USER, device_user("school-01")])
    broker.start()
    try:
        assert broker.port != taken
        central = mqtt_test_client(broker.url, CENTRAL_USER, protocol=mqtt.MQTTv311)
        device = mqtt_test_client(broker.url, device_user("school-01"),
                                  protocol=mqtt.MQTTv311)
        device.subscribe(topics.rtc("school-01"))
        device.subscribe(topics.cmd("hotel-01"))   # not its own: never delivered
        central.publish(topics.cmd("hotel-01"), b"not yours", wait=5)
        central.publish(topics.rtc("school-01"), b"offer", wait=5)
        wait_for(lambda: device.messages, what="the device's own rtc signal")
        assert device.messages == [(topics.rtc("school-01"), b"offer")]
    finally:
        broker.close()


def test_a_given_port_in_use_fails_with_one_line(taken: int) -> None:
    broker = EmbeddedBroker([CENTRAL_USER], port=taken)
    with pytest.raises(BrokerError, match="address already in use") as failed:
        broker.start()
    assert "\n" not in str(failed.value)
    broker.close()


def test_the_demos_mosquitto_also_replaces_a_port_taken_meanwhile(
        taken: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from alarmlink import broker as broker_module
    from alarmlink_tools.demo import _start_broker

    picks = iter([taken])
    monkeypatch.setattr(broker_module, "free_port",
                        lambda: next(picks, None) or worker_free_port())
    broker, protocol = _start_broker([CENTRAL_USER], tmp_path, embedded=False)
    try:
        assert protocol == "mqttv5" and f":{taken}" not in broker.url
    finally:
        broker.close()
