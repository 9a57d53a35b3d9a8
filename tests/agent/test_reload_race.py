"""reload_config against a running main loop: the new config is installed by the loop's own
thread between two ticks, never from the command worker in the middle of a tick; a loop
that does not take it up in time gets nothing applied; events raised while reloads run
are all delivered, once each."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from agent_testkit import config_dict
from fixtures.agents import AgentSet
from fixtures.mqtt import CentralStub
from gpiozero.pins.mock import MockFactory
from helpers import wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from edge_agent.agent import Agent
from edge_agent.commands import Result
from edge_agent.config import load_config


class HeldLoop:
    """Wraps ``agent.tick`` so a test can hold the main loop inside a tick."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.in_tick = False
        self.hold = threading.Event()
        self.held = threading.Event()
        self.release = threading.Event()
        self._tick = agent.tick
        agent.tick = self._held_tick  # type: ignore[method-assign]

    def _held_tick(self) -> None:
        self.in_tick = True
        try:
            self._tick()
            if self.hold.is_set():
                self.held.set()
                assert self.release.wait(30), "the test never released the main loop"
        finally:
            self.in_tick = False

    def hold_now(self) -> None:
        self.hold.set()
        wait_for(self.held.is_set, what="the main loop held inside a tick")

    def let_go(self) -> None:
        self.hold.clear()
        self.release.set()


class Reload:
    """Runs the reload_config command on its own thread, as the command worker does."""

    def __init__(self, agent: Agent) -> None:
        self.result: Result | None = None
        command = wire.Command(cmd_id=wire.new_id(), name="reload_config", by="officer-test",
                               expires_at=wire.utcnow() + timedelta(seconds=60))
        self._thread = threading.Thread(target=self._run, args=(agent, command), daemon=True)
        self._thread.start()

    def _run(self, agent: Agent, command: wire.Command) -> None:
        self.result = agent.commands.execute(command)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def outcome(self) -> Result:
        self._thread.join(30)
        assert self.result is not None, "the reload did not finish"
        return self.result


def start_from_file(agents: AgentSet, path: Path, data: dict[str, Any]) -> Agent:
    path.write_text(tomli_w.dumps(data))
    return agents.new(load_config(path), pin_factory=MockFactory(), config_path=path)


def ticks_after(agent: Agent, count: int) -> None:
    """Wait until the main loop has ticked ``count`` more times."""
    for _ in range(count):
        last = agent.last_tick_at
        wait_for(lambda last=last: agent.last_tick_at != last, what="another main loop tick")


def test_a_reload_is_installed_by_the_main_loop_between_ticks(
        tmp_path: Path, agent_set: AgentSet) -> None:
    data = config_dict(tmp_path, resend_timeout_s=10, resend_max_s=120)  # no broker needed
    path = tmp_path / "agent.toml"
    agent = start_from_file(agent_set, path, data)
    loop = HeldLoop(agent)
    old = agent.config
    announced: list[tuple[str, bool]] = []  # (thread name, inside a tick) of the status

    def publish(topic: str, payload: bytes, **kwargs: Any) -> Any:
        announced.append((threading.current_thread().name, loop.in_tick))
        return None  # not connected

    agent.link.publish = publish  # type: ignore[method-assign]

    loop.hold_now()
    path.write_text(tomli_w.dumps({**data, "resend_timeout_s": 3, "resend_max_s": 7}))
    reload = Reload(agent)
    wait_for(lambda: agent.loop_calls.pending or reload.done,
             what="the reload handed to the main loop")
    assert not reload.done, "the reload finished while the main loop was inside a tick"
    assert agent.config is old
    assert (agent.outbox.resend_timeout_s, agent.outbox.resend_max_s) == (10, 120)

    loop.let_go()
    ok, detail = reload.outcome()
    assert ok, detail
    assert detail["changed"] == "resend_max_s, resend_timeout_s"
    assert agent.config.resend_timeout_s == 3 and agent.config.resend_max_s == 7
    assert (agent.outbox.resend_timeout_s, agent.outbox.resend_max_s) == (3, 7)
    assert agent.link.config_hash == agent.config.config_hash() == detail["config_hash"]
    assert announced == [(f"agent-{agent.device_id}", False)], \
        "the new config must be installed by the main loop thread, outside a tick"


def test_a_loop_that_does_not_take_the_reload_up_in_time_gets_nothing_applied(
        tmp_path: Path, agent_set: AgentSet) -> None:
    data = config_dict(tmp_path, heartbeat_interval_s=60)
    path = tmp_path / "agent.toml"
    agent = start_from_file(agent_set, path, data)
    loop = HeldLoop(agent)
    old_config, old_hash = agent.config, agent.link.config_hash
    agent.loop_calls.timeout_s = 0.2  # how long the reload waits for a busy loop

    loop.hold_now()
    path.write_text(tomli_w.dumps({**data, "heartbeat_interval_s": 5}))
    ok, detail = Reload(agent).outcome()  # gives up while the loop is still held
    assert not ok
    assert "did not take the change up within 0.2 s; nothing was applied" in str(
        detail["reason"])
    loop.let_go()
    ticks_after(agent, 2)
    assert agent.config is old_config and agent.link.config_hash == old_hash

    ok, detail = Reload(agent).outcome()  # the loop is free again: the same file applies
    assert ok and detail["changed"] == "heartbeat_interval_s", detail
    assert agent.config.heartbeat_interval_s == 5


def test_events_raised_while_reloads_run_are_delivered_once_each(
        tmp_path: Path, fresh_mosquitto: MosquittoBroker, central_stub: CentralStub,
        agent_set: AgentSet, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="edge_agent")
    # Resend timers far longer than the test: any second copy at central is a bug.
    data = config_dict(tmp_path, url=fresh_mosquitto.url, resend_timeout_s=60, resend_max_s=600)
    path = tmp_path / "agent.toml"
    agent = start_from_file(agent_set, path, data)
    wait_for(lambda: agent.connected, what="the agent to connect")
    raised: list[wire.Event] = []
    results: list[Result] = []

    def raise_events() -> None:  # as a serial reader thread does
        for n in range(120):
            raised.append(agent.raise_event("panic", "alarm" if n % 2 else "restore",
                                            "gate-button", wire.Source.SERIAL))

    def reload_repeatedly() -> None:
        for n in range(12):
            path.write_text(tomli_w.dumps({**data, "resend_timeout_s": 60 + n % 2,
                                           "heartbeat_interval_s": 30 + n % 3}))
            results.append(Reload(agent).outcome())

    workers = [threading.Thread(target=raise_events), threading.Thread(target=reload_repeatedly)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not any(worker.is_alive() for worker in workers), "raising or reloading hung"

    assert all(ok for ok, _detail in results), results
    wait_for(lambda: len(central_stub.events()) >= len(raised), timeout=30,
             what="every raised event at central")
    wait_for(lambda: agent.outbox.depth() == 0, what="every event confirmed")
    received = [(e.event_id, e.seq) for e in central_stub.events()]
    assert sorted(received, key=lambda pair: pair[1]) == [(e.event_id, e.seq) for e in raised]
    assert len(set(received)) == len(received) == 120, "an event was lost or sent twice"
    assert agent.config.heartbeat_interval_s == 30 + 11 % 3  # the last reload is in force
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
