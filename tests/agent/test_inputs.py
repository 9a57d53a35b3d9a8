"""Inputs: our own debounce and confirmation (fake clock), on gpiozero mock pins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agent_testkit import FakeClock
from gpiozero.pins.mock import MockFactory, MockPin
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from alarmlink import wire
from edge_agent.config import InputConfig
from edge_agent.inputs import AlarmInput, ContactFilter, InputChange

INPUT = TypeAdapter(InputConfig)


# --- the pure filter -------------------------------------------------------------------


def test_bounce_shorter_than_debounce_is_ignored() -> None:
    f = ContactFilter(debounce_s=0.05, confirm_s=0.0, t=0.0)
    for step in range(10):  # chatter every 10 ms for 100 ms
        f.feed(step % 2 == 0, step * 0.01)
        assert f.poll(step * 0.01) is None
    f.feed(False, 0.1)
    assert f.poll(1.0) is None
    assert not f.raised


def test_raise_after_debounce_plus_confirm_then_clear_after_debounce() -> None:
    # Binary-exact times (1/16 s debounce) so the boundaries are tested exactly.
    f = ContactFilter(debounce_s=0.0625, confirm_s=0.5, t=0.0)
    f.feed(True, 1.0)
    assert f.poll(1.5) is None
    assert f.poll(1.5625) == "raise"
    assert f.poll(2.0) is None  # raised once, not again
    f.feed(False, 3.0)
    assert f.poll(3.03125) is None
    assert f.poll(3.0625) == "clear"
    assert f.poll(4.0) is None


def test_alarm_shorter_than_confirm_time_is_not_raised() -> None:
    f = ContactFilter(debounce_s=0.05, confirm_s=0.5, t=0.0)
    f.feed(True, 1.0)
    assert f.poll(1.3) is None
    f.feed(False, 1.4)  # smoke puff gone before confirmation
    assert f.poll(5.0) is None
    assert not f.raised


def test_a_short_dropout_during_confirmation_restarts_it() -> None:
    f = ContactFilter(debounce_s=0.05, confirm_s=0.5, t=0.0)
    f.feed(True, 0.0)
    f.feed(False, 0.4)
    f.feed(True, 0.41)
    assert f.poll(0.6) is None  # 0.6 s since the first change, but only 0.19 s since the last
    assert f.poll(0.96) == "raise"


@given(st.lists(st.tuples(st.booleans(), st.floats(min_value=0.0, max_value=0.3)),
                max_size=60),
       st.floats(min_value=0.0, max_value=0.1), st.floats(min_value=0.0, max_value=0.3))
def test_filter_properties(samples: list[tuple[bool, float]], debounce: float,
                           confirm: float) -> None:
    """Raises and clears alternate, and a raise needs the contact active long enough."""
    f = ContactFilter(debounce, confirm, t=0.0)
    t = 0.0
    active_since: float | None = None
    last = None
    for level, dt in samples:
        t += dt
        f.feed(level, t)
        if level and active_since is None:
            active_since = t
        if not level:
            active_since = None
        result = f.poll(t)
        if result == "raise":
            assert last != "raise"
            assert active_since is not None and t - active_since >= debounce + confirm - 1e-9
        if result == "clear":
            assert last == "raise" and not level
        last = result or last
    assert f.raised == (last == "raise")


# --- inputs on mock pins ---------------------------------------------------------------


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.reset()


class Rig:
    """An AlarmInput on a mock pin with a fake clock, recording every callback."""

    def __init__(self, factory: MockFactory, config: dict[str, Any]) -> None:
        self.clock = FakeClock()
        self.factory = factory
        self.input = AlarmInput(INPUT.validate_python(config), pin_factory=factory,
                                clock=self.clock)
        self.changes: list[InputChange] = []
        self.input.when_alarm = self.input.when_restore = self.input.when_trouble = \
            self.changes.append

    def pin(self, number: int) -> MockPin:
        pin = self.factory.pin(number)
        assert isinstance(pin, MockPin)
        return pin

    def close_contact(self, number: int) -> None:  # pull-up wiring: closed = low
        self.pin(number).drive_low()

    def open_contact(self, number: int) -> None:
        self.pin(number).drive_high()

    def run(self, seconds: float, step: float = 0.01) -> list[InputChange]:
        before = len(self.changes)
        end = self.clock.now + seconds
        while self.clock.now < end - 1e-9:
            self.clock.advance(step)
            self.input.poll()
        return self.changes[before:]

    def summary(self, changes: list[InputChange]) -> list[tuple[str, str]]:
        return [(c.kind.value, c.state.value) for c in changes]


def test_button_press_alarms_after_debounce_and_release_is_silent(factory: MockFactory) -> None:
    rig = Rig(factory, {"type": "button", "zone": "gate", "pin": 17, "debounce_ms": 50})
    rig.input.arm()
    assert rig.run(0.2) == []
    rig.close_contact(17)
    assert rig.run(0.03) == []
    changes = rig.run(0.05)
    assert rig.summary(changes) == [("panic", "alarm")]
    assert changes[0].zone == "gate" and changes[0].detail["pin"] == "GPIO17"
    assert rig.input.state == "alarm"
    rig.open_contact(17)
    assert rig.run(0.2) == []  # a one-key alarm latches at central; no restore
    assert rig.input.state == "normal"


def test_button_chatter_never_alarms(factory: MockFactory) -> None:
    rig = Rig(factory, {"type": "button", "zone": "gate", "pin": 17, "debounce_ms": 50})
    rig.input.arm()
    for _ in range(20):  # 20 ms bounces: never stable for 50 ms
        rig.close_contact(17)
        rig.run(0.02)
        rig.open_contact(17)
        rig.run(0.02)
    assert rig.changes == []


def test_normally_closed_detector_alarm_needs_confirmation_then_restores(
        factory: MockFactory) -> None:
    rig = Rig(factory, {"type": "detector", "zone": "dorm", "pin": 22,
                        "contact": "normally_closed", "confirm_ms": 500})
    rig.close_contact(22)  # at rest the NC contact is closed
    rig.input.arm()
    rig.open_contact(22)
    assert rig.run(0.3) == []
    rig.close_contact(22)  # a 0.3 s puff: below the confirmation time
    assert rig.run(1.0) == []
    rig.open_contact(22)
    changes = rig.run(0.6)
    assert rig.summary(changes) == [("smoke", "alarm")]
    rig.close_contact(22)
    assert rig.summary(rig.run(0.1)) == [("smoke", "restore")]


def test_normally_closed_detector_without_supervision_fails_safe(factory: MockFactory) -> None:
    """A cut wire on an unsupervised NC contact is indistinguishable from an alarm: alarm."""
    rig = Rig(factory, {"type": "detector", "zone": "dorm", "pin": 22,
                        "contact": "normally_closed", "confirm_ms": 0})
    rig.close_contact(22)
    rig.input.arm()
    rig.open_contact(22)  # the wire is cut
    assert rig.summary(rig.run(0.2)) == [("smoke", "alarm")]


def test_normally_open_detector_with_pull_down_wiring(factory: MockFactory) -> None:
    rig = Rig(factory, {"type": "detector", "zone": "kitchen", "pin": 5, "kind": "heat",
                        "contact": "normally_open", "pull_up": False, "confirm_ms": 0})
    rig.input.arm()
    rig.pin(5).drive_high()  # pull-down wiring: a closed contact pulls the pin high
    assert rig.summary(rig.run(0.1)) == [("heat", "alarm")]
    rig.pin(5).drive_low()
    assert rig.summary(rig.run(0.1)) == [("heat", "restore")]


def test_open_supervision_loop_is_trouble_not_alarm(factory: MockFactory) -> None:
    rig = Rig(factory, {"type": "detector", "zone": "dorm", "pin": 22, "supervision_pin": 23,
                        "contact": "normally_closed", "supervision_confirm_ms": 200})
    rig.close_contact(22)
    rig.close_contact(23)
    rig.input.arm()
    rig.open_contact(23)  # the supervision wire is cut
    changes = rig.run(0.3)
    assert rig.summary(changes) == [("trouble", "trouble")]
    assert changes[0].detail["pin"] == "GPIO23"
    assert rig.input.state == "trouble"
    rig.close_contact(23)
    assert rig.summary(rig.run(0.1)) == [("trouble", "restore")]
    assert rig.input.state == "normal"


def test_loop_open_is_trouble_with_its_kind(factory: MockFactory) -> None:
    rig = Rig(factory, {"type": "loop", "zone": "cabinet", "pin": 24, "kind": "tamper",
                        "confirm_ms": 100})
    rig.close_contact(24)
    rig.input.arm()
    rig.open_contact(24)
    assert rig.summary(rig.run(0.2)) == [("tamper", "trouble")]
    assert rig.input.state == "trouble"
    rig.close_contact(24)
    assert rig.summary(rig.run(0.1)) == [("tamper", "restore")]


def test_input_already_active_at_start_is_reported(factory: MockFactory) -> None:
    rig = Rig(factory, {"type": "loop", "zone": "cabinet", "pin": 24, "confirm_ms": 100})
    rig.open_contact(24)  # the loop was already open when the agent started
    rig.input.arm()
    assert rig.summary(rig.run(0.3)) == [("trouble", "trouble")]


def test_edge_between_polls_is_not_lost(factory: MockFactory) -> None:
    """The gpiozero callback records when the edge happened, not when we polled."""
    rig = Rig(factory, {"type": "button", "zone": "gate", "pin": 17, "debounce_ms": 50})
    rig.input.arm()
    rig.close_contact(17)
    rig.clock.advance(0.06)  # one late poll, 60 ms after the edge
    assert [c.state for c in rig.input.poll()] == [wire.State.ALARM]


def test_a_failing_callback_does_not_stop_polling(factory: MockFactory) -> None:
    rig = Rig(factory, {"type": "button", "zone": "gate", "pin": 17, "debounce_ms": 0})

    def broken(_change: InputChange) -> None:
        raise RuntimeError("display bug")

    rig.input.when_alarm = broken
    rig.input.arm()
    rig.close_contact(17)
    assert [c.state for c in rig.input.poll(rig.clock.advance(0.01))] == [wire.State.ALARM]
    assert rig.input.state == "alarm"


def test_a_buttons_default_debounce_rejects_contact_bounce_and_glitches(
        factory: MockFactory) -> None:
    """The default (20 ms): a press that bounces for 8 ms (1 ms chatter, longer than a push
    button bounces) alarms once, 20 ms after the bouncing stops; a 15 ms glitch on the line
    never alarms."""
    rig = Rig(factory, {"type": "button", "zone": "gate", "pin": 17})
    assert rig.input.config.debounce_ms == 20
    rig.input.arm()
    assert rig.run(0.1, step=0.001) == []
    rig.close_contact(17)  # a 15 ms glitch (interference on the cable), then quiet again
    assert rig.run(0.015, step=0.001) == []
    rig.open_contact(17)
    assert rig.run(0.2, step=0.001) == []
    for _ in range(4):  # the press: 8 ms of bounce, then closed
        rig.close_contact(17)
        assert rig.run(0.001, step=0.001) == []
        rig.open_contact(17)
        assert rig.run(0.001, step=0.001) == []
    rig.close_contact(17)
    assert rig.run(0.019, step=0.001) == []
    assert rig.summary(rig.run(0.002, step=0.001)) == [("panic", "alarm")]
    assert rig.run(0.2, step=0.001) == [], "one alarm for one bouncing press"
