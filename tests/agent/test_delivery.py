"""Delivery rule against a real Mosquitto: committed first, resent with the same id until
central's 'stored' receipt, through broker outages and agent restarts. Tests that stop the
broker have one of their own; the others share the session's, each with its own device."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_testkit import make_config
from fixtures.agents import AgentSet
from fixtures.mqtt import CentralStub
from helpers import wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker


def ids(events: list[wire.Event]) -> list[tuple[str, int]]:
    return [(e.event_id, e.seq) for e in events]


def test_stored_receipt_removes_the_row_and_nothing_else_does(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url))
    first = agent.raise_event("panic", "alarm", "gate-button", wire.Source.GPIO)
    second = agent.raise_event("panic", "alarm", "gate-button", wire.Source.GPIO)
    wait_for(lambda: len(central_observer.events()) >= 2, what="both events at central")
    assert agent.outbox.depth() == 2  # published is not stored
    central_observer.receipt(isolated_device_id, wire.new_id(), "stored")  # someone else's
    central_observer.receipt(isolated_device_id, second.event_id, "stored")
    wait_for(lambda: not agent.outbox.contains(second.event_id), what="row removed")
    assert agent.outbox.contains(first.event_id)
    assert ids(central_observer.events()[:2]) == [(first.event_id, 1), (second.event_id, 2)]


def test_unconfirmed_event_is_resent_with_the_same_id_and_seq(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url, resend_timeout_s=1))
    event = agent.raise_event("smoke", "alarm", "dorm", wire.Source.GPIO)
    copies = wait_for(lambda: len(central_observer.events()) >= 2 and central_observer.events(),
                      what="a resend after the timeout")
    assert {(e.event_id, e.seq) for e in copies} == {(event.event_id, event.seq)}
    assert all(e == event for e in copies)  # byte-identical payload, same ts
    central_observer.receipt(isolated_device_id, event.event_id, "stored")
    wait_for(lambda: agent.outbox.depth() == 0, what="the stored receipt")


def test_receipt_stages_move_the_venue_led(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_stub: CentralStub, agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url))
    event = agent.raise_event("panic", "alarm", "gate-button", wire.Source.GPIO)
    wait_for(lambda: agent.feedback.stage == "stored", what="stored on the LED")
    central_stub.receipt(isolated_device_id, event.event_id, "acknowledged", by="officer-li",
                         incident_id=7)
    wait_for(lambda: agent.feedback.stage == "acknowledged", what="acknowledged on the LED")
    trouble = agent.raise_event("trouble", "trouble", "cabinet", wire.Source.GPIO)
    wait_for(lambda: not agent.outbox.contains(trouble.event_id), what="trouble stored")
    assert agent.feedback.event_id == event.event_id  # trouble does not take over the LED


def test_a_later_stage_also_confirms_storage(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url))
    event = agent.raise_event("panic", "alarm", "gate-button")
    wait_for(lambda: central_observer.events(), what="the event")
    central_observer.receipt(isolated_device_id, event.event_id, "acknowledged")  # 'stored' lost
    wait_for(lambda: agent.outbox.depth() == 0, what="the row removed")


def test_events_made_during_a_broker_outage_are_delivered_after_it(
        tmp_path: Path, fresh_mosquitto: MosquittoBroker, central_stub: CentralStub,
        agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, url=fresh_mosquitto.url))
    wait_for(lambda: agent.connected, what="the agent to connect")
    fresh_mosquitto.stop()
    wait_for(lambda: not agent.connected, what="the agent to notice the outage")
    made = [agent.raise_event("panic", "alarm", "gate-button", wire.Source.GPIO)
            for _ in range(20)]
    assert agent.outbox.depth() == 20
    fresh_mosquitto.start()
    wait_for(lambda: agent.outbox.depth() == 0, timeout=20, what="all 20 stored after restart")
    received = {(e.event_id, e.seq) for e in central_stub.events()}
    assert received == {(e.event_id, e.seq) for e in made}
    assert [e.seq for e in made] == list(range(1, 21))


def test_broker_down_at_the_very_first_connect(tmp_path: Path, fresh_mosquitto: MosquittoBroker,
                                               agent_set: AgentSet) -> None:
    fresh_mosquitto.stop()
    agent = agent_set.new(make_config(tmp_path, url=fresh_mosquitto.url))
    event = agent.raise_event("fire", "alarm", "gate-button")
    wait_for(lambda: agent.link.last_error, what="a failed first connect")
    fresh_mosquitto.start()
    central = CentralStub(fresh_mosquitto, auto_store=True)
    try:
        wait_for(lambda: agent.outbox.depth() == 0, timeout=20, what="delivery after start")
        assert event.event_id in {e.event_id for e in central.events()}
    finally:
        central.close()


def test_restart_resends_committed_events_and_continues_seq(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_stub: CentralStub, agent_set: AgentSet) -> None:
    """Events committed by an agent that died before publishing reach central after a
    restart, with the same ids; seq continues without reuse."""
    config = make_config(tmp_path, device_id=isolated_device_id, url=shared_mosquitto.url)
    dead = agent_set.new(config, start=False)  # never connects: commits only
    committed = [dead.raise_event("panic", "alarm", "gate-button") for _ in range(3)]
    dead._close_hardware()  # the process is gone; nothing was published
    assert central_stub.events() == []
    agent = agent_set.new(config)
    wait_for(lambda: agent.outbox.depth() == 0, what="the old events stored")
    assert ids(central_stub.events()) == ids(committed)
    after = agent.raise_event("panic", "alarm", "gate-button")
    assert after.seq == 4
    wait_for(lambda: agent.outbox.depth() == 0, what="the new event stored")


def test_walk_test_config_marks_events_as_test(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_stub: CentralStub, agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url, walk_test=True))
    event = agent.raise_event("panic", "alarm", "gate-button")
    assert event.test
    wait_for(lambda: central_stub.events(), what="the test event")
    assert central_stub.events()[0].test


def test_an_alarm_the_disk_refused_is_retried_not_dropped(
        tmp_path: Path, agent_set: AgentSet, monkeypatch: pytest.MonkeyPatch) -> None:
    from gpiozero.pins.mock import MockPin

    from edge_agent.outbox import Outbox, OutboxError

    agent = agent_set.new(make_config(tmp_path))  # no broker needed
    real_add = Outbox.add
    failures = iter([True, True])

    def flaky_add(self: Outbox, **kwargs: object) -> wire.Event:
        if next(failures, False):
            raise OutboxError("disk I/O error")
        return real_add(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Outbox, "add", flaky_add)
    pin = agent.inputs["gate-button"].main.device.pin
    assert isinstance(pin, MockPin)
    pin.drive_low()  # press
    wait_for(lambda: agent.outbox.depth() == 1, what="the alarm committed on a retry")
    assert agent.outbox.pending()[0].zone == "gate-button"
