"""Feedback at the venue: an LED (and optional buzzer) showing the latest alarm's stage.

The person who pressed the one-key button needs to know that help is coming:

===============  =====================  =====================================
stage            LED                    meaning
===============  =====================  =====================================
``idle``         off                    no alarm since the agent started
``sent``         slow blink (1 Hz)      raised here, on its way to central
``stored``       fast blink (5 Hz)      central has stored it
``acknowledged`` solid on               a duty officer acknowledged it
``dispatched``   solid on               help has been dispatched
``resolved``     off                    the station closed it
===============  =====================  =====================================

The buzzer (if any) beeps once when an alarm is raised and three times when
it is acknowledged. Stages only move forward for a given event; receipts for
older events are ignored; a newer alarm starts again at ``sent``.

The talk button's sign (``[feedback] talk_led_pin``, optional; the buzzer is shared):

===============  =====================  =====================================
talk stage       talk LED               meaning
===============  =====================  =====================================
``idle``         off                    no request, or the session ended
``asked``        slow blink (1 Hz)      the venue's talk request is on its way
``received``     fast blink (5 Hz)      central has it (``talk_received``); the
                                        buzzer beeps twice, short
``answered``     solid on               an officer's live session is connected
===============  =====================  =====================================

The blinking stops after ``talk_blink_s`` if no officer answers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gpiozero import LED, Buzzer

from alarmlink import wire
from edge_agent.config import FeedbackConfig

logger = logging.getLogger(__name__)

STAGES = ("idle", "sent", "stored", "acknowledged", "dispatched", "resolved")
TALK_STAGES = ("idle", "asked", "received", "answered")
_RANK = {name: index for index, name in enumerate(STAGES)}

#: Called with (event, stage) whenever the shown stage changes.
StageListener = Callable[[wire.Event, str], None]


class Feedback:
    """Tracks the latest alarm event and drives the outputs for its stage."""

    def __init__(self, config: FeedbackConfig, *, pin_factory: Any = None) -> None:
        self._lock = threading.Lock()
        self.stage: str = "idle"
        self.event: wire.Event | None = None
        self.listeners: list[StageListener] = []
        self.led: LED | None = None
        self.buzzer: Buzzer | None = None
        #: The talk button's LED (None: not fitted) and what it shows (TALK_STAGES).
        self.talk_led: LED | None = None
        self.talk_stage = "idle"
        self._talk_blink_s = config.talk_blink_s
        try:
            if config.led_pin is not None:
                self.led = LED(config.led_pin, active_high=config.active_high,
                               initial_value=False, pin_factory=pin_factory)
            if config.buzzer_pin is not None:
                self.buzzer = Buzzer(config.buzzer_pin, active_high=config.active_high,
                                     initial_value=False, pin_factory=pin_factory)
            if config.talk_led_pin is not None:
                self.talk_led = LED(config.talk_led_pin, active_high=config.active_high,
                                    initial_value=False, pin_factory=pin_factory)
        except Exception:
            self.close()
            raise

    @property
    def event_id(self) -> str | None:
        return self.event.event_id if self.event is not None else None

    def alarm_raised(self, event: wire.Event) -> None:
        """A new alarm: it becomes the latest and shows ``sent``."""
        with self._lock:
            self.event = event
            self._set("sent")

    def receipt(self, receipt: wire.Receipt) -> bool:
        """Apply a receipt; True if it moved the latest alarm forward."""
        with self._lock:
            if self.event is None or receipt.event_id != self.event.event_id:
                return False
            if receipt.stage.value not in _RANK:  # rejected: the LED keeps its stage
                return False
            if _RANK[receipt.stage.value] <= _RANK[self.stage]:
                return False
            self._set(receipt.stage.value)
            return True

    def silence(self) -> None:
        """Stop the buzzer (command ``silence``); the LED keeps showing the stage."""
        if self.buzzer is not None:
            self.buzzer.off()

    def _set(self, stage: str) -> None:
        self.stage = stage
        self._drive(stage)
        event = self.event
        assert event is not None
        logger.info("feedback: alarm %s in zone %s is %s", event.event_id, event.zone, stage)
        for listener in list(self.listeners):
            try:
                listener(event, stage)
            except Exception:  # a display bug must not break receipt handling
                logger.exception("feedback listener failed")

    def _drive(self, stage: str) -> None:
        if self.led is not None:
            if stage == "sent":
                self.led.blink(on_time=0.5, off_time=0.5)
            elif stage == "stored":
                self.led.blink(on_time=0.1, off_time=0.1)
            elif stage in ("acknowledged", "dispatched"):
                self.led.on()
            else:
                self.led.off()
        if self.buzzer is not None:
            if stage == "sent":
                self.buzzer.blink(on_time=0.2, off_time=0.2, n=1)
            elif stage == "acknowledged":
                self.buzzer.blink(on_time=0.15, off_time=0.15, n=3)

    # --- the talk button's sign ---------------------------------------------------------

    def talk_asked(self) -> None:
        """The venue's talk request was sent: slow blink (unless an officer is on)."""
        with self._lock:
            if self.talk_stage != "answered":
                self._talk("asked")

    def talk_received(self) -> None:
        """Central has the talk request: fast blink and two short beeps."""
        with self._lock:
            if self.talk_stage != "answered":
                self._talk("received")
            if self.buzzer is not None:
                self.buzzer.blink(on_time=0.1, off_time=0.1, n=2)

    def talk_answered(self, connected: bool) -> None:
        """An officer's live session started (True) or the last one ended (False)."""
        with self._lock:
            if connected:
                self._talk("answered")
            elif self.talk_stage == "answered":
                self._talk("idle")

    def _talk(self, stage: str) -> None:
        self.talk_stage = stage
        logger.info("feedback: talk %s", stage)
        led = self.talk_led
        if led is None:
            return
        if stage in ("asked", "received"):
            period = 1.0 if stage == "asked" else 0.2
            led.blink(on_time=period / 2, off_time=period / 2,
                      n=max(int(self._talk_blink_s / period), 1))
        elif stage == "answered":
            led.on()
        else:
            led.off()

    @property
    def led_on(self) -> bool | None:
        """The LED's current level (None without an LED); blinking toggles it."""
        return None if self.led is None else bool(self.led.is_lit)

    def close(self) -> None:
        for device in (self.led, self.buzzer, self.talk_led):
            if device is not None:
                device.close()
