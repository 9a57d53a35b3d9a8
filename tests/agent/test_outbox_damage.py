"""A lost, emptied, truncated or corrupted outbox: no silent seq reset, the file moved
aside, a trouble at the station, an agent that keeps running (issue 11, line 4)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from agent_testkit import make_config
from fixtures.agents import AgentSet
from fixtures.mqtt import CentralStub
from helpers import wait_for

from alarmlink.broker import MosquittoBroker
from edge_agent.outbox import Outbox
from edge_agent.outbox_guard import SEQ_BLOCK, sidecar_path


def fill(path: Path, events: int = 3) -> None:
    with Outbox(path, "school-01") as box:
        for _ in range(events):
            box.add(kind="fire", state="alarm", zone="z1", source="gpio")


def zero_length(path: Path) -> None:
    path.write_bytes(b"")


def truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2 + 100])


def corrupted(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[16:len(data)] = b"\xa5" * (len(data) - 16)  # header kept, every page garbage
    path.write_bytes(bytes(data))


def deleted(path: Path) -> None:
    path.unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "zero-length": zero_length, "truncated": truncated, "corrupted": corrupted,
    "deleted": deleted}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_outbox_is_moved_aside_and_seq_continues(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "outbox-school-01.sqlite3"
    fill(path)
    DAMAGE[damage](path)
    with Outbox(path, "school-01") as box:
        assert box.recovery is not None, "damage must never pass silently"
        assert box.next_seq > 3, "seq must not start again at 1"
        assert box.next_seq <= 4 + SEQ_BLOCK
        event = box.add(kind="fire", state="alarm", zone="z1", source="gpio")
        assert event.seq == box.recovery.next_seq
    aside = list(tmp_path.glob("outbox-school-01.sqlite3.damaged-*"))
    if damage == "deleted":
        assert box.recovery.moved_to is None and aside == []
    else:
        assert [p for p in aside if not p.name.endswith(("-wal", "-shm"))] == \
            [box.recovery.moved_to]
    with Outbox(path, "school-01") as again:  # the fresh one is healthy: no second alarm
        assert again.recovery is None and again.next_seq == event.seq + 1


def test_a_healthy_outbox_keeps_its_seq_and_writes_the_sidecar_rarely(tmp_path: Path) -> None:
    path = tmp_path / "outbox-school-01.sqlite3"
    fill(path, 5)
    mark = int(sidecar_path(path).read_text())
    fill(path, 5)
    with Outbox(path, "school-01") as box:
        assert box.recovery is None and box.next_seq == 11
    assert int(sidecar_path(path).read_text()) == mark  # 10 events: no new mark written
    sqlite3.connect(path).close()


def test_agent_raises_an_outbox_trouble_and_keeps_running(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    config = make_config(tmp_path, device_id=isolated_device_id, url=shared_mosquitto.url)
    with Outbox(config.outbox_path, isolated_device_id) as box:
        for _ in range(2):
            box.add(kind="fire", state="alarm", zone="gate-button", source="gpio")
    zero_length(config.outbox_path)
    agent = agent_set.new(config)
    troubles = wait_for(lambda: [e for e in central_observer.events(isolated_device_id)
                                 if e.zone == "outbox"], what="the outbox trouble")
    assert troubles[0].kind == "trouble" and troubles[0].state == "trouble"
    assert troubles[0].seq >= 3 and "empty" in str(troubles[0].detail["reason"])
    assert agent.connected
    event = agent.raise_event("panic", "alarm", "gate-button")
    assert event.seq > troubles[0].seq
    wait_for(lambda: any(e.event_id == event.event_id
                         for e in central_observer.events(isolated_device_id)),
             what="a later alarm published")


def test_a_rejected_event_is_not_resent_and_is_kept_as_rejected(tmp_path: Path) -> None:
    path = tmp_path / "outbox-school-01.sqlite3"
    with Outbox(path, "school-01") as box:
        event = box.add(kind="fire", state="alarm", zone="z1", source="gpio")
        assert box.reject(event.event_id, "kind 'meteor' unknown")
        assert box.due(now=1e9) == [] and box.depth() == 0
        assert box.rejected() == [(event.event_id, event.seq, "kind 'meteor' unknown")]
        assert not box.reject(event.event_id, "again")  # a repeated receipt changes nothing


def test_agent_stops_resending_on_a_rejected_receipt(
        tmp_path: Path, shared_mosquitto: MosquittoBroker, isolated_device_id: str,
        central_observer: CentralStub, agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, device_id=isolated_device_id,
                                      url=shared_mosquitto.url))
    wait_for(lambda: agent.connected, what="the agent to connect")
    event = agent.raise_event("panic", "alarm", "gate-button")
    wait_for(lambda: any(e.event_id == event.event_id
                         for e in central_observer.events(isolated_device_id)),
             what="the event published")
    central_observer.receipt(isolated_device_id, event.event_id, "rejected",
                             reason="poison for the test")
    wait_for(lambda: agent._outbox.rejected(), what="the event moved to rejected")  # noqa: SLF001
    assert agent._outbox.depth() == 0  # noqa: SLF001
