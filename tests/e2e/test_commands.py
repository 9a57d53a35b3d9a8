"""Remote commands end to end (issue 5): central's API -> real Mosquitto -> the real agent
-> result stored at central. An expired command is refused, and a command is never
retained: a subscriber that arrives later gets nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from e2e.harness import CentralProcess, button_only
from gpiozero.pins.mock import MockFactory
from helpers import CENTRAL_USER, wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from alarmlink.mqtt import paho_client
from edge_agent.agent import Agent


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    made: list[Agent] = []
    yield made
    for agent in made:
        if agent.running:
            agent.stop(timeout=2)


def start_agent(agents: list[Agent], mosquitto: MosquittoBroker, state: Path) -> Agent:
    agent = Agent(button_only("school", mosquitto, state), pin_factory=MockFactory())
    agents.append(agent)
    agent.start()
    wait_for(lambda: agent.connected, what="the agent to connect")
    return agent


def send(central: CentralProcess, name: str, ttl_s: int = 30) -> dict[str, Any]:
    result: dict[str, Any] = central.api("POST", "/api/devices/school-01/commands",
                                         {"name": name, "actor": "officer-li", "ttl_s": ttl_s})
    return result


def stored(central: CentralProcess, cmd_id: str) -> dict[str, Any] | None:
    listed = central.api("GET", "/api/devices/school-01/commands")
    return next((c for c in listed if c["cmd_id"] == cmd_id and c["result"]), None)


def test_self_test_result_is_stored_at_central(
        mosquitto: MosquittoBroker, central: CentralProcess, agents: list[Agent],
        tmp_path: Path) -> None:
    start_agent(agents, mosquitto, tmp_path / "state")
    command = send(central, "self_test")
    assert command["status"] == "pending"
    done = wait_for(lambda: stored(central, command["cmd_id"]), what="the stored result")
    detail = done["result"]["detail"]
    assert detail["inputs"] == "gate-button=normal" and detail["outbox_depth"] == 0
    assert detail["camera"] == "none fitted" and detail["disk_free_mb"] > 0
    assert done["status"] == ("ok" if detail["problems"] == "none" else "failed")
    rows = central.rows("SELECT device_id, ok FROM command_results WHERE cmd_id = ?",
                        (command["cmd_id"],))
    assert [tuple(r) for r in rows] == [("school-01", int(done["result"]["ok"]))]


def test_command_that_expired_while_the_device_was_away_is_refused(
        mosquitto: MosquittoBroker, central: CentralProcess, agents: list[Agent],
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    start_agent(agents, mosquitto, state).stop()  # the broker keeps its session
    command = send(central, "reboot", ttl_s=1)
    expires = datetime.fromisoformat(command["expires_at"].replace("Z", "+00:00"))
    wait_for(lambda: wire.utcnow() > expires, what="the command to expire")
    start_agent(agents, mosquitto, state)  # the broker delivers the queued command now
    done = wait_for(lambda: stored(central, command["cmd_id"]), what="the refusal")
    assert done["status"] == "refused_expired"
    assert done["result"]["detail"]["reason"] == "expired"


def test_commands_are_never_retained(mosquitto: MosquittoBroker,
                                     central: CentralProcess) -> None:
    send(central, "self_test")
    send(central, "reboot")
    received: list[mqtt.MQTTMessage] = []
    marker = f"alarmlink/v1/test-marker/{uuid.uuid4().hex}"
    subscribed, marked = threading.Event(), threading.Event()

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == marker:
            marked.set()
        else:
            received.append(message)

    late = paho_client(client_id=f"late-{uuid.uuid4().hex}")
    late.username_pw_set(CENTRAL_USER.username, CENTRAL_USER.password)
    late.on_message = on_message
    late.on_subscribe = lambda *_a: subscribed.set()
    late.connect(mosquitto.host, mosquitto.port)
    late.loop_start()
    try:
        late.subscribe([("alarmlink/v1/dev/+/cmd", 1), (marker, 1)])
        assert subscribed.wait(10)
        # Retained messages are sent on subscribe, before anything published after it.
        late.publish(marker, b"after the subscription", qos=1)
        assert marked.wait(10), "the marker never came back"
        assert received == [], f"a command was retained: {[m.topic for m in received]}"
    finally:
        late.disconnect()
        late.loop_stop()
