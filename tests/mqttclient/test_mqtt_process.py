"""central.mqtt_process: central's broker connection in a child process, on a real broker.

A PUBACK leaves only when central acknowledges (after its commit); a child that dies is
reported and replaced, and what it had delivered unacknowledged comes again; a central
that dies takes its child with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest
from helpers import CENTRAL_USER, wait_for

from alarmlink.broker import MosquittoBroker
from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.mqtt import MqttClient
from alarmlink.wire import Topics
from central.mqtt_process import MqttProcess, RemoteMessage

pytestmark = pytest.mark.broker
TOPICS = Topics()


class Received:
    def __init__(self, process: MqttProcess) -> None:
        self.process = process
        self.lock = threading.Lock()
        self.items: list[tuple[bytes, Any]] = []

    def __call__(self, message: RemoteMessage) -> None:
        with self.lock:
            self.items.append((message.payload, self.process.acker(message)))

    def payloads(self) -> list[bytes]:
        with self.lock:
            return [payload for payload, _ack in self.items]


def central(url: str) -> tuple[MqttProcess, Received]:
    config = BrokerConfig(url=url, username="central", password=CENTRAL_USER.password,
                          reconnect_min_s=1, reconnect_max_s=1)
    process = MqttProcess(config, name="central", clean=False)
    received = Received(process)
    process.subscribe(TOPICS.all_devices("event"), received, 1)
    return process, received


def device(url: str) -> MqttClient:
    client = MqttClient(BrokerConfig(url=url, username="school-01", password="school-01-pw"),
                        clean=True)
    client.start()
    assert client.wait_ready(15)
    return client


def test_only_acknowledged_messages_are_not_delivered_again(
        fresh_mosquitto: MosquittoBroker) -> None:
    first, received = central(fresh_mosquitto.url)
    first.start()
    agent = device(fresh_mosquitto.url)
    try:
        assert first.wait_ready(20) and first.connected and first.connect_count == 1
        for n in range(4):
            agent.publish(TOPICS.event("school-01"), b"event-%d" % n, qos=1)
        wait_for(lambda: len(received.payloads()) == 4, timeout=15, what="4 events")
        for _payload, ack in received.items[:2]:  # central committed the first two only
            ack()
            ack()  # at most once
        first.stop()
        assert not first.connected
        second, again = central(fresh_mosquitto.url)
        second.start()
        try:
            wait_for(lambda: len(again.payloads()) >= 2, timeout=20, what="redelivery")
            assert sorted(again.payloads()) == [b"event-2", b"event-3"]
            assert second.session_present is True
        finally:
            second.stop()
    finally:
        agent.stop()


def test_a_child_that_dies_is_reported_replaced_and_its_messages_come_again(
        fresh_mosquitto: MosquittoBroker) -> None:
    process, received = central(fresh_mosquitto.url)
    process.start()
    agent = device(fresh_mosquitto.url)
    try:
        assert process.wait_ready(20)
        agent.publish(TOPICS.event("school-01"), b"before", qos=1)
        wait_for(lambda: received.payloads() == [b"before"], timeout=15, what="the event")
        stale_ack = received.items[0][1]
        os.kill(process._process.pid, signal.SIGKILL)
        wait_for(lambda: not process.connected, timeout=10, what="disconnected")
        assert "MQTT process ended" in (process.last_error or "")
        stale_ack()  # the dead child's message: nothing to send, nothing breaks
        wait_for(lambda: process.ready, timeout=30, what="a new child, subscribed")
        assert process.connect_count >= 2  # it only grows (supervision reads it)
        agent.publish(TOPICS.event("school-01"), b"after", qos=1)
        wait_for(lambda: received.payloads().count(b"before") == 2
                 and b"after" in received.payloads(), timeout=20,
                 what="the unacknowledged event again, and the new one")
    finally:
        agent.stop()
        process.stop()


CHILD_SCRIPT = """
import sys, time
from alarmlink.broker_endpoint import BrokerConfig
from central.mqtt_process import MqttProcess
p = MqttProcess(BrokerConfig(url=sys.argv[1], username="central", password=sys.argv[2]),
                name="central")
p.subscribe("alarmlink/v1/dev/+/event", lambda m: None, 1)
p.start()
print(p._process.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_the_child_ends_when_central_is_killed(fresh_mosquitto: MosquittoBroker) -> None:
    parent = subprocess.Popen([sys.executable, "-c", CHILD_SCRIPT, fresh_mosquitto.url,
                               CENTRAL_USER.password], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.kill()
        parent.wait(10)
        wait_for(lambda: not _alive(child), timeout=10, what="the orphaned child to exit")
    finally:
        if parent.poll() is None:
            parent.kill()


GROUP_SCRIPT = """
import signal, sys, threading
from alarmlink.broker_endpoint import BrokerConfig
from central.mqtt_process import MqttProcess
p = MqttProcess(BrokerConfig(url=sys.argv[1], username="central", password=sys.argv[2]),
                name="central")
p.subscribe("alarmlink/v1/dev/+/event", lambda m: None, 1)
done = threading.Event()
signal.signal(signal.SIGINT, lambda *_: done.set())
p.start()
assert p.wait_ready(20)
print(p._process.pid, flush=True)
done.wait(60)
print("stopped", p.stop(), p._process.returncode, flush=True)
"""


def test_ctrl_c_to_the_group_stops_central_and_its_child_cleanly(
        fresh_mosquitto: MosquittoBroker) -> None:
    """A Ctrl-C reaches the whole process group: the child ignores it and ends through
    central's normal stop (DISCONNECT, exit code 0), not by the signal."""
    parent = subprocess.Popen([sys.executable, "-c", GROUP_SCRIPT, fresh_mosquitto.url,
                               CENTRAL_USER.password], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        os.killpg(parent.pid, signal.SIGINT)
        out, err = parent.communicate(timeout=30)
        assert out.strip() == "stopped True 0", err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        assert not _alive(child)
    finally:
        if parent.poll() is None:
            parent.kill()
