"""A device's outbox in a test: QoS 1 events resent until their ``stored`` receipt.

What the agent's outbox does, small enough for 50 of them in one test process (the
scale-out kill tests: ingest workers, central nodes on PostgreSQL).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from helpers import device_user
from pydantic import SecretStr

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.mqtt import connect_client

#: Seconds without a ``stored`` receipt after which a device resends an event.
RESEND_S = 1.0


class Device:
    """A device's outbox: publishes its events at QoS 1 and resends each until stored."""

    def __init__(self, broker: MosquittoBroker, device_id: str) -> None:
        self.id = device_id
        self.topics = wire.Topics()
        config = BrokerConfig(url=broker.url, username=device_id,
                              password=SecretStr(device_user(device_id).password))
        self.client = connect_client(config, client_id=device_id, clean=True)
        self.outbox: dict[str, tuple[bytes, float]] = {}
        self.resent = 0
        self.lock = threading.Lock()
        self.client.on_message = self._receipt
        self.client.subscribe(self.topics.receipt(device_id), qos=1)

    def _receipt(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        receipt = wire.decode(wire.Receipt, message.payload)
        if receipt.stage == wire.Stage.STORED:
            with self.lock:
                self.outbox.pop(receipt.event_id, None)

    def send(self, seq: int) -> str:
        event = wire.Event(event_id=wire.new_id(), device_id=self.id, seq=seq,
                           ts=wire.utcnow(), kind=wire.Kind.FIRE, state=wire.State.ALARM,
                           zone="z1", source=wire.Source.GPIO)
        payload = wire.encode(event)
        with self.lock:
            self.outbox[event.event_id] = (payload, time.monotonic())
        self.client.publish(self.topics.event(self.id), payload, qos=1)
        return event.event_id

    def resend_due(self) -> None:
        now = time.monotonic()
        with self.lock:
            due = [(k, p) for k, (p, at) in self.outbox.items() if now - at > RESEND_S]
            for event_id, payload in due:
                self.outbox[event_id] = (payload, now)
        self.resent += len(due)
        for _event_id, payload in due:
            self.client.publish(self.topics.event(self.id), payload, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
