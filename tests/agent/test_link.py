"""The MQTT link against a real Mosquitto: status, refused connects, heartbeats, commands."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_testkit import TOPICS, CentralClient, make_config
from gpiozero.pins.mock import MockFactory
from helpers import wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from edge_agent.agent import Agent
from edge_agent.config import AgentConfig


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    """Agents created by a test; stopped afterwards even if the test fails."""
    made: list[Agent] = []
    yield made
    for agent in made:
        if agent.running:
            agent.stop(timeout=2)


def start(agents: list[Agent], config: AgentConfig) -> Agent:
    agent = Agent(config, pin_factory=MockFactory())
    agents.append(agent)
    agent.start()
    return agent


def test_connects_and_publishes_online_status_retained(
        tmp_path: Path, mosquitto: MosquittoBroker, agents: list[Agent]) -> None:
    agent = start(agents, make_config(tmp_path, url=mosquitto.url))
    wait_for(lambda: agent.connected, what="the agent to connect")
    late = CentralClient(mosquitto)  # subscribes after the fact: gets the retained status
    try:
        status, retained = wait_for(lambda: late.statuses(), what="retained status")[0]
        assert retained and status.state == wire.Availability.ONLINE
        assert status.boot_id == agent.boot_id
        assert status.config_hash == agent.config.config_hash()
        assert status.version
    finally:
        late.close()


def test_refused_connect_is_not_connected_and_logged(
        tmp_path: Path, mosquitto: MosquittoBroker, agents: list[Agent],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="edge_agent.link")
    config = make_config(tmp_path, url=mosquitto.url, broker={"password": "wrong"})
    agent = start(agents, config)
    wait_for(lambda: agent.link.last_error, what="the broker's refusal")
    assert not agent.connected
    assert agent.link.connect_count == 0
    assert "refused" in (agent.link.last_error or "")
    assert any("refused the connection" in r.getMessage() and "school-01" in r.getMessage()
               for r in caplog.records)
    event = agent.raise_event("panic", "alarm", "gate-button")
    assert agent.outbox.contains(event.event_id)  # committed even though not connected


def test_not_authorised_by_acl_user_is_refused(
        tmp_path: Path, mosquitto: MosquittoBroker, agents: list[Agent]) -> None:
    """A device id the broker does not know (no account) must not count as connected."""
    config = make_config(tmp_path, url=mosquitto.url, device_id="gym-09")
    agent = start(agents, config)
    wait_for(lambda: agent.link.last_error, what="the broker's refusal")
    assert not agent.connected


def test_heartbeat_carries_uptime_outbox_depth_and_inputs(
        tmp_path: Path, mosquitto: MosquittoBroker, observer: CentralClient,
        agents: list[Agent]) -> None:
    agent = start(agents, make_config(tmp_path, url=mosquitto.url, heartbeat_interval_s=1))
    agent.raise_event("test", "alarm", "self-check")  # unconfirmed: observer never stores
    beats = wait_for(lambda: [h for h in observer.heartbeats() if h.outbox_depth == 1],
                     what="a heartbeat showing the unconfirmed event")
    assert beats[-1].inputs == {"gate-button": "normal"}
    assert beats[-1].uptime_s >= 0
    wait_for(lambda: len(observer.heartbeats()) >= 2, what="a second heartbeat")


def test_clean_stop_publishes_stopped_retained(
        tmp_path: Path, mosquitto: MosquittoBroker, agents: list[Agent]) -> None:
    agent = start(agents, make_config(tmp_path, url=mosquitto.url))
    wait_for(lambda: agent.connected, what="the agent to connect")
    agent.stop()
    assert not agent.connected
    late = CentralClient(mosquitto)
    try:
        status, retained = wait_for(lambda: late.statuses(), what="retained status")[0]
        assert retained and status.state == wire.Availability.STOPPED
    finally:
        late.close()


def test_self_test_command_and_unsupported_and_expired_ones(
        tmp_path: Path, mosquitto: MosquittoBroker, observer: CentralClient,
        agents: list[Agent]) -> None:
    agent = start(agents, make_config(tmp_path, url=mosquitto.url))
    wait_for(lambda: agent.connected, what="the agent to connect")
    expired = observer.command("school-01", "self_test", expires_in=-5)
    unsupported = observer.command("school-01", "reboot")
    ok = observer.command("school-01", "self_test")
    results = wait_for(lambda: len(observer.results()) == 3 and
                       {r.cmd_id: r for r in observer.results()}, what="three results")
    # commands run in order on one worker: the expired one is answered, never run
    assert [r.cmd_id for r in observer.results()] == [expired, unsupported, ok]
    assert not results[expired].ok and results[expired].detail["reason"] == "expired"
    assert results[ok].detail["connected"] is True
    assert results[ok].detail["inputs"] == "gate-button=normal"
    assert results[ok].detail["outbox_depth"] == 0
    assert not results[unsupported].ok  # reboot without allow_reboot = true
    assert "allow_reboot = false" in str(results[unsupported].detail["reason"])


def test_malformed_receipts_and_commands_are_ignored(
        tmp_path: Path, mosquitto: MosquittoBroker, observer: CentralClient,
        agents: list[Agent], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="edge_agent.link")
    agent = start(agents, make_config(tmp_path, url=mosquitto.url))
    wait_for(lambda: agent.connected, what="the agent to connect")
    event = agent.raise_event("panic", "alarm", "gate-button")
    wait_for(lambda: observer.events(), what="the event")
    for junk in (b"not json", b'{"v": 2}', b'{"v":1,"event_id":"x"}', b"\xff" * 20000):
        observer.raw(TOPICS.receipt("school-01"), junk)
        observer.raw(TOPICS.cmd("school-01"), junk)
    observer.receipt("school-01", event.event_id, "stored")
    wait_for(lambda: agent.outbox.depth() == 0, what="the valid receipt after the junk")
    assert agent.connected
    assert sum("ignoring malformed" in r.getMessage() for r in caplog.records) == 8


def test_mqtt_311_works_too(tmp_path: Path, mosquitto: MosquittoBroker,
                            central: CentralClient, agents: list[Agent]) -> None:
    config = make_config(tmp_path, url=mosquitto.url, broker={"protocol": "mqttv311"})
    agent = start(agents, config)
    event = agent.raise_event("panic", "alarm", "gate-button")
    wait_for(lambda: agent.outbox.depth() == 0, what="the stored receipt over MQTT 3.1.1")
    assert [e.event_id for e in central.events()] == [event.event_id]
    assert central.states()[-1] == "online"
