"""An input's alarm leaves before the SD card's fsync, and is durable before anything
else happens: commit (no fsync), publish, then the fsync (the publish's own durable
record, or one of the WAL when offline), then the LED, buzzer and listeners."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from agent_testkit import FakeClock, make_config
from gpiozero.pins.mock import MockFactory

from alarmlink import wire
from edge_agent.agent import Agent


def _press(agent: Agent, factory: MockFactory, clock: FakeClock) -> None:
    for item in agent.inputs.values():
        item.arm()
    button = next(iter(agent.inputs.values()))
    factory.pin(button.main.pin).drive_low()  # a press (pull-up: closed = low)
    due = agent.tick()
    assert due is not None
    clock.now = due + 1e-6
    agent.tick()


def _statements(agent: Agent, order: list[str]) -> None:
    """Note the outbox's SQL as it runs (the commits and their synchronous mode)."""
    agent.outbox._db.set_trace_callback(lambda sql: order.append(sql.strip().split("\n")[0]))


def _at(order: list[str], prefix: str, start: int = 0) -> int:
    return next(i for i, s in enumerate(order) if i >= start and s.startswith(prefix))


def test_connected_the_alarm_is_published_before_any_fsync_and_synced_before_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock, factory = FakeClock(), MockFactory()
    agent = Agent(make_config(tmp_path), pin_factory=factory, clock=clock)
    monkeypatch.setattr(type(agent.link), "connected", property(lambda _self: True))
    order: list[str] = []

    def publish(payload: bytes) -> bool:
        order.append(f"paho {wire.decode(wire.Event, payload).seq}")
        return True

    agent._sender.publish = publish
    agent.event_listeners.append(lambda e: order.append(f"listener {e.seq}"))
    try:
        agent._sender.reconnected(clock.now)
        _statements(agent, order)
        _press(agent, factory, clock)
    finally:
        agent.stop()
    relaxed = _at(order, "PRAGMA synchronous=NORMAL")
    insert = _at(order, "INSERT INTO events", relaxed)
    committed = _at(order, "COMMIT", insert)
    full_again = _at(order, "PRAGMA synchronous=FULL", committed)
    paho = order.index("paho 1")
    recorded = _at(order, "UPDATE events SET sent_at", paho)
    synced = _at(order, "COMMIT", recorded)  # synchronous=FULL: the WAL's fsync
    assert relaxed < insert < committed < full_again < paho < recorded < synced \
        < order.index("listener 1"), order
    assert not agent.outbox._unsynced


def test_offline_the_outbox_is_synced_before_the_led_and_listeners(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock, factory = FakeClock(), MockFactory()
    agent = Agent(make_config(tmp_path), pin_factory=factory, clock=clock)
    order: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        order.append("fsync " + os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    agent.event_listeners.append(lambda e: order.append(f"listener {e.seq}"))
    try:
        _press(agent, factory, clock)
        wal = f"fsync {agent.outbox.path}-wal"
        assert wal in order and order.index(wal) < order.index("listener 1"), order
        assert agent.outbox.depth() == 1 and not agent.outbox._unsynced
    finally:
        agent.stop()


def test_a_refused_fsync_keeps_the_event_and_the_agent_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    clock, factory = FakeClock(), MockFactory()
    agent = Agent(make_config(tmp_path), pin_factory=factory, clock=clock)
    real_fsync = os.fsync

    def failing(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("-wal"):
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)
    try:
        with caplog.at_level(logging.CRITICAL, logger="edge_agent"):
            _press(agent, factory, clock)
        assert agent.outbox.depth() == 1, "the committed event was dropped"
        assert not agent._uncommitted, "a committed event would be committed twice"
        assert any("refused to sync" in r.getMessage() and "SD card" in r.getMessage()
                   for r in caplog.records), caplog.text
        monkeypatch.setattr(os, "fsync", real_fsync)
        agent.outbox.sync()  # the next attempt makes it durable
        assert not agent.outbox._unsynced
    finally:
        agent.stop()
