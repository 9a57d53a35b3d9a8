"""Remote commands end to end (issue 5): central's API -> real Mosquitto -> the real agent
-> result stored at central. An expired command is refused, and a command is never
retained: a subscriber that arrives later gets nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from e2e.harness import button_only
from fixtures.agents import AgentSet
from fixtures.central import CentralProcess
from fixtures.mqtt import MqttTestClient
from helpers import PROBE_USER, wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from edge_agent.agent import Agent


def start_agent(agents: AgentSet, mosquitto: MosquittoBroker, state: Path) -> Agent:
    agent = agents.new(button_only("school", mosquitto, state))
    wait_for(lambda: agent.connected, what="the agent to connect")
    return agent


def send(central: CentralProcess, name: str, ttl_s: int = 30) -> dict[str, Any]:
    result: dict[str, Any] = central.api("POST", "/api/devices/school-01/commands",
                                         {"name": name, "ttl_s": ttl_s})
    return result


def stored(central: CentralProcess, cmd_id: str) -> dict[str, Any] | None:
    listed = central.api("GET", "/api/devices/school-01/commands")
    return next((c for c in listed if c["cmd_id"] == cmd_id and c["result"]), None)


def test_self_test_result_is_stored_at_central(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, agent_set: AgentSet,
        tmp_path: Path) -> None:
    start_agent(agent_set, fresh_mosquitto, tmp_path / "state")
    command = send(central_process, "self_test")
    assert command["status"] == "pending"
    done = wait_for(lambda: stored(central_process, command["cmd_id"]), what="the stored result")
    detail = done["result"]["detail"]
    assert detail["inputs"] == "gate-button=normal" and detail["outbox_depth"] == 0
    assert detail["camera"] == "none fitted" and detail["disk_free_mb"] > 0
    assert done["status"] == ("ok" if detail["problems"] == "none" else "failed")
    rows = central_process.rows("SELECT device_id, ok FROM command_results WHERE cmd_id = ?",
                                (command["cmd_id"],))
    assert [tuple(r) for r in rows] == [("school-01", int(done["result"]["ok"]))]


def test_command_that_expired_while_the_device_was_away_is_refused(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, agent_set: AgentSet,
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    start_agent(agent_set, fresh_mosquitto, state).stop()  # the broker keeps its session
    command = send(central_process, "reboot", ttl_s=1)
    expires = datetime.fromisoformat(command["expires_at"].replace("Z", "+00:00"))
    wait_for(lambda: wire.utcnow() > expires, what="the command to expire")
    start_agent(agent_set, fresh_mosquitto, state)  # the broker delivers the queued command now
    done = wait_for(lambda: stored(central_process, command["cmd_id"]), what="the refusal")
    assert done["status"] == "refused_expired"
    assert done["result"]["detail"]["reason"] == "expired"


def test_commands_are_never_retained(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        mqtt_test_client: Callable[..., MqttTestClient]) -> None:
    send(central_process, "self_test")
    send(central_process, "reboot")
    marker = f"alarmlink/v1/test-marker/{uuid.uuid4().hex}"
    late = mqtt_test_client(fresh_mosquitto.url, PROBE_USER)
    assert late.accepted
    late.subscribe([("alarmlink/v1/dev/+/cmd", 1), (marker, 1)])
    # Retained messages are sent on subscribe, before anything published after it.
    late.publish(marker, b"after the subscription", wait=None)
    wait_for(lambda: any(topic == marker for topic, _ in late.received()),
             what="the marker back")
    received = [topic for topic, _ in late.received() if topic != marker]
    assert received == [], f"a command was retained: {received}"
