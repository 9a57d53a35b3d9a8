"""Venue feedback: the LED shows the latest alarm's stage, only ever moving forward."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory, MockPin
from helpers import wait_for

from alarmlink import wire
from edge_agent.config import FeedbackConfig
from edge_agent.feedback import Feedback

LED_PIN, BUZZER_PIN = 23, 24


@pytest.fixture
def feedback() -> Iterator[Feedback]:
    factory = MockFactory()
    fb = Feedback(FeedbackConfig(led_pin=LED_PIN, buzzer_pin=BUZZER_PIN), pin_factory=factory)
    yield fb
    fb.close()
    factory.reset()


def alarm(zone: str = "gate-button") -> wire.Event:
    return wire.Event(event_id=wire.new_id(), device_id="school-01", seq=1, ts=wire.utcnow(),
                      kind="panic", state="alarm", zone=zone, source="gpio")


def receipt(event: wire.Event, stage: str) -> wire.Receipt:
    return wire.Receipt(event_id=event.event_id, stage=stage, ts=wire.utcnow())


def led_pin(fb: Feedback) -> MockPin:
    assert fb.led is not None
    pin = fb.led.pin
    assert isinstance(pin, MockPin)
    return pin


def toggles(fb: Feedback) -> int:
    return len(led_pin(fb).states)


def test_stages_drive_the_led(feedback: Feedback) -> None:
    seen: list[tuple[str, str]] = []
    feedback.listeners.append(lambda event, stage: seen.append((event.zone, stage)))
    assert feedback.stage == "idle" and feedback.led_on is False
    event = alarm()
    feedback.alarm_raised(event)
    assert feedback.stage == "sent"
    start = toggles(feedback)
    wait_for(lambda: toggles(feedback) >= start + 2, what="the LED to blink (sent)")
    assert feedback.receipt(receipt(event, "stored"))
    assert feedback.stage == "stored"
    start = toggles(feedback)
    wait_for(lambda: toggles(feedback) >= start + 4, what="the LED to blink fast (stored)")
    assert feedback.receipt(receipt(event, "acknowledged"))
    assert feedback.stage == "acknowledged" and feedback.led_on is True
    assert feedback.receipt(receipt(event, "resolved"))
    assert feedback.stage == "resolved" and feedback.led_on is False
    assert seen == [("gate-button", s) for s in ("sent", "stored", "acknowledged", "resolved")]


def test_stages_only_move_forward(feedback: Feedback) -> None:
    event = alarm()
    feedback.alarm_raised(event)
    assert feedback.receipt(receipt(event, "acknowledged"))  # 'stored' was lost: fine
    assert not feedback.receipt(receipt(event, "stored"))  # late, out of order
    assert not feedback.receipt(receipt(event, "acknowledged"))  # duplicate
    assert feedback.stage == "acknowledged" and feedback.led_on is True


def test_a_newer_alarm_resets_and_older_receipts_are_ignored(feedback: Feedback) -> None:
    old, new = alarm("gate-button"), alarm("office-button")
    feedback.alarm_raised(old)
    feedback.receipt(receipt(old, "acknowledged"))
    feedback.alarm_raised(new)
    assert (feedback.stage, feedback.event_id) == ("sent", new.event_id)
    assert not feedback.receipt(receipt(old, "resolved"))
    assert feedback.stage == "sent"
    assert feedback.receipt(receipt(new, "stored"))


def test_buzzer_beeps_on_alarm_and_silence_stops_it(feedback: Feedback) -> None:
    assert feedback.buzzer is not None
    pin = feedback.buzzer.pin
    assert isinstance(pin, MockPin)
    feedback.alarm_raised(alarm())
    wait_for(lambda: len(pin.states) >= 2, what="the buzzer to sound")
    feedback.silence()
    assert not feedback.buzzer.is_active


def test_without_outputs_the_stage_is_still_tracked() -> None:
    fb = Feedback(FeedbackConfig(), pin_factory=MockFactory())
    event = alarm()
    fb.alarm_raised(event)
    fb.receipt(receipt(event, "stored"))
    assert fb.stage == "stored" and fb.led_on is None
    fb.silence()
    fb.close()
