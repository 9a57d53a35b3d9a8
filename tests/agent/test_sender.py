"""Issue 11, the event-driven agent and the drain: the sender publishes the outbox in seq
order with a bounded in-flight window, never before the reconnect was handled, refills a
full window a batch at a time, and resends by central's progress; the agent's loop has no
fixed poll period (it sleeps until an edge, an event, a receipt or a deadline)."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_testkit import FakeClock, make_config
from gpiozero.pins.mock import MockFactory

from alarmlink import wire
from edge_agent.agent import Agent
from edge_agent.outbox import Outbox
from edge_agent.sender import Sender


def _rig(tmp_path: Path, *, window: int = 100, batch: int = 100
         ) -> tuple[Outbox, Sender, list[wire.Event]]:
    outbox = Outbox(tmp_path / "outbox-school-01.sqlite3", "school-01", resend_timeout_s=10,
                    resend_max_s=10)
    sent: list[wire.Event] = []

    def publish(payload: bytes) -> bool:
        sent.append(wire.decode(wire.Event, payload))
        return True

    return outbox, Sender(outbox, publish, device_id="school-01", window=window,
                          batch=batch), sent


def _add(outbox: Outbox, n: int) -> list[wire.Event]:
    return [outbox.add(kind="fire", state="alarm", zone="z1", source="gpio")
            for _ in range(n)]


def _pump_until_idle(sender: Sender, now: float) -> None:
    for _ in range(100):
        if sender.pump(now) != now:
            return
    raise AssertionError("the sender never stopped asking to run at once")


def test_nothing_goes_before_the_reconnect_is_handled_then_all_in_seq_order(
        tmp_path: Path) -> None:
    outbox, sender, sent = _rig(tmp_path, batch=7)
    made = _add(outbox, 30)
    assert sender.pump(100.0) is None and sent == [], "connected, reconnected() not yet run"
    assert sender.reconnected(100.0) == 30
    _pump_until_idle(sender, 100.0)
    assert [e.seq for e in sent] == [e.seq for e in made], "each once, in seq order"
    outbox.close()


def test_a_full_window_refills_a_batch_at_a_time_and_receipts_are_deleted_in_one_go(
        tmp_path: Path) -> None:
    outbox, sender, sent = _rig(tmp_path, window=10, batch=4)
    made = _add(outbox, 30)
    sender.reconnected(100.0)
    _pump_until_idle(sender, 100.0)
    assert len(sent) == 8 and sender.in_flight == 8, "room for 2 < a batch of 4: wait"
    for event in made[:2]:
        assert outbox.confirm(event.event_id)
        sender.confirmed(event.event_id, 101.0)
    assert outbox.depth() == 28 and not outbox.contains(made[0].event_id)
    _pump_until_idle(sender, 101.0)
    assert len(sent) == 12, "room for a whole batch again: 4 more"
    rows = outbox._db.execute("SELECT count(*) FROM events").fetchone()[0]
    assert rows == 28, "the pump deleted the confirmed rows"
    outbox.close()


def test_nothing_in_flight_is_resent_while_receipts_keep_coming(tmp_path: Path) -> None:
    outbox, sender, sent = _rig(tmp_path)
    first, second, third = _add(outbox, 3)
    sender.reconnected(100.0)
    _pump_until_idle(sender, 100.0)
    outbox.confirm(first.event_id)
    sender.confirmed(first.event_id, 105.0)  # central is working through them
    wake = sender.pump(112.0)
    assert len(sent) == 3, "12 s after sending, but a receipt came 7 s ago: no copies"
    assert wake is not None and 112.0 < wake <= 115.0
    sender.pump(116.0)  # no receipt for 11 s: resend what is still waiting
    assert [e.event_id for e in sent[3:]] == [second.event_id, third.event_id]
    outbox.close()


def test_a_damaged_stored_payload_is_rejected_not_sent(tmp_path: Path) -> None:
    outbox, sender, sent = _rig(tmp_path)
    bad, good = _add(outbox, 2)
    outbox._db.execute("UPDATE events SET payload = ? WHERE event_id = ?",
                       (b"{damaged", bad.event_id))
    sender.reconnected(100.0)
    _pump_until_idle(sender, 100.0)
    assert [e.event_id for e in sent] == [good.event_id]
    assert [r[0] for r in outbox.rejected()] == [bad.event_id]
    outbox.close()


def test_the_loop_sleeps_until_an_edge_or_a_deadline(tmp_path: Path) -> None:
    clock = FakeClock()
    factory = MockFactory()
    agent = Agent(make_config(tmp_path), pin_factory=factory, clock=clock)
    try:
        for item in agent.inputs.values():
            item.arm()
        assert agent.tick() is None, "idle and offline: no wake-up asked for"
        agent._wake.clear()
        button = next(iter(agent.inputs.values()))
        factory.pin(button.main.pin).drive_low()  # a press (pull-up: closed = low)
        assert agent._wake.is_set(), "the pin's edge wakes the loop at once"
        due = agent.tick()
        debounce = button.config.debounce_ms / 1000
        assert due == clock.now + debounce + button.config.confirm_ms / 1000
        assert agent.outbox.depth() == 0
        clock.now = due + 1e-6
        agent.tick()
        assert agent.outbox.depth() == 1, "confirmed at the deadline the loop slept until"
    finally:
        agent.stop()


def test_a_pressed_buttons_event_goes_to_paho_before_the_led_and_listeners(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the main loop, an input's event is handed to paho right after its commit; the
    LED, buzzer and listeners (milliseconds of work) come after it."""
    clock = FakeClock()
    factory = MockFactory()
    agent = Agent(make_config(tmp_path), pin_factory=factory, clock=clock)
    monkeypatch.setattr(type(agent.link), "connected", property(lambda _self: True))
    order: list[str] = []

    def publish(payload: bytes) -> bool:
        event = wire.decode(wire.Event, payload)
        order.append(f"paho {event.seq}")
        assert agent.feedback.event is None, "the LED was driven before the publish"
        return True

    agent._sender.publish = publish
    agent.event_listeners.append(lambda e: order.append(f"listener {e.seq}"))
    try:
        agent._sender.reconnected(clock.now)
        for item in agent.inputs.values():
            item.arm()
        button = next(iter(agent.inputs.values()))
        factory.pin(button.main.pin).drive_low()
        due = agent.tick()
        assert due is not None
        clock.now = due + 1e-6
        agent.tick()
        assert order == ["paho 1", "listener 1"]
        assert agent.feedback.stage == "sent", "the LED shows it after the hand-over"
    finally:
        agent.stop()
