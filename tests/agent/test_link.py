"""The MQTT link against a real Mosquitto (the session's, each test with a device of its
own): status, refused connects, heartbeats, commands."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from agent_testkit import TOPICS, make_config
from fixtures.agents import AgentSet
from fixtures.mqtt import CentralStub
from helpers import wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker


def test_connects_and_publishes_online_status_retained(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url))
    wait_for(lambda: agent.connected, what="the agent to connect")
    # subscribes after the fact: gets the retained status
    late = CentralStub(shared_mosquitto, device_id=isolated_device_id)
    try:
        status, retained = wait_for(lambda: late.statuses(), what="retained status")[0]
        assert retained and status.state == wire.Availability.ONLINE
        assert status.boot_id == agent.boot_id
        assert status.config_hash == agent.config.config_hash()
        assert status.version
    finally:
        late.close()


def test_refused_connect_is_not_connected_and_logged(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        agent_set: AgentSet, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="edge_agent.link")
    config = make_config(tmp_path, device_id=isolated_device_id, url=shared_mosquitto.url,
                         broker={"password": "wrong"})
    agent = agent_set.new(config)
    wait_for(lambda: agent.link.last_error, what="the broker's refusal")
    assert not agent.connected
    assert agent.link.connect_count == 0
    assert "refused" in (agent.link.last_error or "")
    # the error is recorded before it is logged, on paho's thread: wait for the line too
    wait_for(lambda: any("refused the connection" in r.getMessage()
                         and isolated_device_id in r.getMessage() for r in caplog.records),
             what="the refusal logged with the device id")
    event = agent.raise_event("panic", "alarm", "gate-button")
    assert agent.outbox.contains(event.event_id)  # committed even though not connected


def test_not_authorised_by_acl_user_is_refused(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, agent_set: AgentSet) -> None:
    """A device id the broker does not know (no account) must not count as connected."""
    config = make_config(tmp_path, url=shared_mosquitto.url, device_id="gym-09")
    agent = agent_set.new(config)
    wait_for(lambda: agent.link.last_error, what="the broker's refusal")
    assert not agent.connected


def test_heartbeat_carries_uptime_outbox_depth_and_inputs(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url, heartbeat_interval_s=1))
    agent.raise_event("test", "alarm", "self-check")  # unconfirmed: observer never stores
    beats = wait_for(lambda: [h for h in central_observer.heartbeats() if h.outbox_depth == 1],
                     what="a heartbeat showing the unconfirmed event")
    assert beats[-1].inputs == {"gate-button": "normal"}
    assert beats[-1].uptime_s >= 0
    wait_for(lambda: len(central_observer.heartbeats()) >= 2, what="a second heartbeat")


def test_clean_stop_publishes_stopped_retained(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url))
    wait_for(lambda: agent.connected, what="the agent to connect")
    agent.stop()
    assert not agent.connected
    late = CentralStub(shared_mosquitto, device_id=isolated_device_id)
    try:
        status, retained = wait_for(lambda: late.statuses(), what="retained status")[0]
        assert retained and status.state == wire.Availability.STOPPED
    finally:
        late.close()


def test_self_test_command_and_unsupported_and_expired_ones(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url))
    wait_for(lambda: agent.connected, what="the agent to connect")
    central_observer.wait_online(agent.boot_id)  # its command subscription is active
    expired = central_observer.command(isolated_device_id, "self_test", expires_in=-5)
    unsupported = central_observer.command(isolated_device_id, "reboot")
    ok = central_observer.command(isolated_device_id, "self_test")
    results = wait_for(lambda: len(central_observer.results()) == 3 and
                       {r.cmd_id: r for r in central_observer.results()}, what="three results")
    # commands run in order on one worker: the expired one is answered, never run
    assert [r.cmd_id for r in central_observer.results()] == [expired, unsupported, ok]
    assert not results[expired].ok and results[expired].detail["reason"] == "expired"
    assert results[ok].detail["connected"] is True
    assert results[ok].detail["inputs"] == "gate-button=normal"
    assert results[ok].detail["outbox_depth"] == 0
    assert not results[unsupported].ok  # reboot without allow_reboot = true
    assert "allow_reboot = false" in str(results[unsupported].detail["reason"])


def test_malformed_receipts_and_commands_are_ignored(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="edge_agent.link")
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url))
    wait_for(lambda: agent.connected, what="the agent to connect")
    event = agent.raise_event("panic", "alarm", "gate-button")
    wait_for(lambda: central_observer.events(), what="the event")
    for junk in (b"not json", b'{"v": 2}', b'{"v":1,"event_id":"x"}', b"\xff" * 20000):
        central_observer.raw(TOPICS.receipt(isolated_device_id), junk)
        central_observer.raw(TOPICS.cmd(isolated_device_id), junk)
    central_observer.receipt(isolated_device_id, event.event_id, "stored")
    wait_for(lambda: agent.outbox.depth() == 0, what="the valid receipt after the junk")
    assert agent.connected
    assert sum("ignoring malformed" in r.getMessage() for r in caplog.records) == 8


def test_mqtt_311_works_too(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_stub: CentralStub, agent_set: AgentSet) -> None:
    config = make_config(tmp_path, device_id=isolated_device_id, url=shared_mosquitto.url,
                         broker={"protocol": "mqttv311"})
    agent = agent_set.new(config)
    event = agent.raise_event("panic", "alarm", "gate-button")
    wait_for(lambda: agent.outbox.depth() == 0, what="the stored receipt over MQTT 3.1.1")
    assert [e.event_id for e in central_stub.events()] == [event.event_id]
    assert central_stub.states()[-1] == "online"


def test_heartbeats_are_jittered_so_a_fleet_falls_out_of_step(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    """Every period is the interval ±20 % (issue 17): after a broker restart the fleet's
    heartbeats spread out instead of arriving at central in one burst."""
    agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                              url=shared_mosquitto.url, heartbeat_interval_s=1))
    wait_for(lambda: len(central_observer.heartbeats()) >= 6, timeout=20,
             what="six heartbeats")
    beats = central_observer.heartbeats()
    gaps = [(b.ts - a.ts).total_seconds() for a, b in zip(beats, beats[1:], strict=False)]
    assert all(0.75 <= gap <= 1.3 for gap in gaps), gaps
    assert max(gaps) - min(gaps) > 0.05, gaps  # without jitter they are all 1.00 ± a tick
