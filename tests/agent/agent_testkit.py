"""Helpers for the edge agent's tests: configs, a fake clock, a recording central client."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from alarmlink import wire
from alarmlink.broker import MosquittoBroker, free_port
from alarmlink.mqtt import paho_client
from edge_agent.config import AgentConfig, validate_config

TOPICS = wire.Topics()
ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware_configs"

BUTTON = {"type": "button", "zone": "gate-button", "pin": 17}
NC_SMOKE = {"type": "detector", "zone": "dorm-smoke", "pin": 22, "contact": "normally_closed",
            "supervision_pin": 23, "confirm_ms": 200}
LOOP = {"type": "loop", "zone": "cabinet", "pin": 24, "confirm_ms": 100}


def config_dict(tmp_path: Path, *, device_id: str = "school-01", url: str | None = None,
                inputs: list[dict[str, Any]] | None = None, **top: Any) -> dict[str, Any]:
    """A valid config as a dict; ``url`` None points at a closed port (no broker)."""
    broker: dict[str, Any] = {
        "url": url or f"mqtt://127.0.0.1:{free_port()}",
        "username": device_id,
        "password": f"{device_id}-pw",
        "reconnect_min_s": 1,
        "reconnect_max_s": 2,
    }
    broker.update(top.pop("broker", {}))
    data: dict[str, Any] = {
        "device_id": device_id,
        "venue": "Test School",
        "state_dir": str(tmp_path / "state"),
        "broker": broker,
        "inputs": [dict(BUTTON)] if inputs is None else inputs,
    }
    data.update(top)
    return data


def make_config(tmp_path: Path, **kwargs: Any) -> AgentConfig:
    return validate_config(config_dict(tmp_path, **kwargs), source="test.toml",
                           base_dir=tmp_path)


class FakeClock:
    """Monotonic seconds that only move when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool


class CentralClient:
    """A test stand-in for central on the real broker (user ``central``).

    Records every message under the prefix. With ``auto_store`` it answers each
    event with a ``stored`` receipt, like central's ingest.
    """

    def __init__(self, broker: MosquittoBroker, *, auto_store: bool = False) -> None:
        self.messages: list[Message] = []
        self.auto_store = auto_store
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho_client(client_id=f"test-central-{uuid.uuid4().hex[:8]}")
        user = next(u for u in broker.users if u.role == "central")
        self.client.username_pw_set(user.username, user.password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.client.connect_async(broker.host, broker.port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("test central client did not subscribe")

    def _on_connect(self, client: mqtt.Client, *_args: Any) -> None:
        client.subscribe(f"{wire.DEFAULT_PREFIX}/#", qos=1)

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Message(message.topic, bytes(message.payload),
                                         bool(message.retain)))
        if self.auto_store and message.topic.endswith("/event"):
            event = wire.decode(wire.Event, bytes(message.payload))
            self.receipt(event.device_id, event.event_id, "stored")

    def on(self, topic: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def events(self, device_id: str = "school-01") -> list[wire.Event]:
        return [wire.decode(wire.Event, m.payload) for m in self.on(TOPICS.event(device_id))]

    def statuses(self, device_id: str = "school-01") -> list[tuple[wire.Status, bool]]:
        return [(wire.decode(wire.Status, m.payload), m.retain)
                for m in self.on(TOPICS.status(device_id))]

    def states(self, device_id: str = "school-01") -> list[str]:
        return [status.state.value for status, _retain in self.statuses(device_id)]

    def results(self, device_id: str = "school-01") -> list[wire.CommandResult]:
        return [wire.decode(wire.CommandResult, m.payload)
                for m in self.on(TOPICS.cmd_result(device_id))]

    def heartbeats(self, device_id: str = "school-01") -> list[wire.Heartbeat]:
        return [wire.decode(wire.Heartbeat, m.payload)
                for m in self.on(TOPICS.heartbeat(device_id))]

    def receipt(self, device_id: str, event_id: str, stage: str, **extra: Any) -> None:
        receipt = wire.Receipt(event_id=event_id, stage=stage, ts=wire.utcnow(), **extra)
        self.client.publish(TOPICS.receipt(device_id), wire.encode(receipt), qos=1)

    def raw(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def command(self, device_id: str, name: str, *, expires_in: float = 60.0) -> str:
        cmd = wire.Command(cmd_id=wire.new_id(), name=name, by="officer-test",
                           expires_at=wire.utcnow() + timedelta(seconds=expires_in))
        self.client.publish(TOPICS.cmd(device_id), wire.encode(cmd), qos=1)
        return cmd.cmd_id

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
