"""A simulated venue: the REAL edge agent on gpiozero mock pins, driven like hardware.

:class:`VenueSimulator` builds an :class:`~edge_agent.agent.Agent` on its own
``MockFactory`` and drives the mock pins the way a person or a wire would:
``press`` a one-key button, ``trip`` and ``restore`` a detector, ``cut`` and
``mend`` a wire. The agent's own debounce and confirmation logic sees real
level changes, so every action waits (with a deadline) until the agent has
turned it into an event, and returns that event::

    with VenueSimulator(load_config("firmware_configs/school.toml"),
                        state_dir=tmp) as venue:
        event = venue.press("gate-button")        # wire.Event, committed to the outbox
        venue.wait_stage(event.event_id, "acknowledged", timeout=30)

It prints what a tester at the venue would see, one line each, e.g.::

    [school-01] event seq 3: panic alarm in gate-button (01JD...)
    [school-01] LED gate-button alarm 01JD...: stored

Pass ``out=None`` to print nothing.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from gpiozero.pins.mock import MockFactory, MockPin

from alarmlink import wire
from edge_agent.agent import Agent
from edge_agent.config import AgentConfig, ButtonInput, DetectorInput, InputConfig, LoopInput
from edge_agent.mockpins import rest_closed, rest_pins, set_contact

logger = logging.getLogger(__name__)

#: Extra time, beyond an input's debounce + confirm, that an action waits for its event.
ACTION_MARGIN_S = 5.0


class SimulatorError(RuntimeError):
    """An action that cannot be done (unknown zone, wrong input type) or did not register."""


class VenueSimulator:
    """One venue device: the real agent with mock pins and hands to press its buttons."""

    def __init__(self, config: AgentConfig, *, state_dir: Path | str | None = None,
                 out: TextIO | None = sys.stdout, factory: MockFactory | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if state_dir is not None:
            config = config.with_overrides({"state_dir": str(state_dir)})
        self.config = config
        self.device_id = config.device_id
        self.out = out
        self.factory = factory or MockFactory()
        self.events: list[wire.Event] = []
        #: (event_id, zone, stage) for every LED stage change, in order.
        self.stage_changes: list[tuple[str, str, str]] = []
        self._cond = threading.Condition()
        self._action_lock = threading.Lock()
        self._print_lock = threading.Lock()
        self._stopping = threading.Event()
        self.agent = Agent(config, pin_factory=self.factory, clock=clock)
        self.agent.event_listeners.append(self._on_event)
        self.agent.feedback.listeners.append(self._on_stage)
        self.agent.connection_listeners.append(self._on_connection)
        rest_pins(self.factory, config)  # the wiring at rest, before the agent samples it

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> VenueSimulator:
        self._stopping.clear()
        self.say(f"venue \"{self.config.venue}\" started with zones "
                 f"{', '.join(self.zones) or '(none)'}; broker {self.config.broker.url}")
        self.agent.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.agent.stop()
        self.say("stopped")

    def __enter__(self) -> VenueSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def zones(self) -> list[str]:
        return [item.zone for item in self.config.inputs]

    @property
    def stage(self) -> str:
        """The venue LED's stage for the latest alarm (``idle`` before any)."""
        return self.agent.feedback.stage

    # --- actions ---------------------------------------------------------------------

    def press(self, zone: str, hold_s: float | None = None) -> wire.Event:
        """Press and release a button; returns the alarm event once the agent raised it.

        The button is held until the agent has confirmed the press (or for
        ``hold_s`` if longer), then released, and the release is waited for so
        the next press is a new press.
        """
        item = self._input(zone, ButtonInput)
        with self._action_lock:
            mark = self._mark()
            started = time.monotonic()
            self._set_contact(item, item.pin, closed=not self._rest_closed(item))
            event = self._wait_event(zone, wire.State.ALARM, mark, item)
            if hold_s is not None:
                remaining = hold_s - (time.monotonic() - started)
                if remaining > 0:
                    self._stopping.wait(remaining)
            self._set_contact(item, item.pin, closed=self._rest_closed(item))
            self._wait_cleared(zone, item)
        return event

    def ask_to_talk(self, zone: str) -> None:
        """Press and release a talk button (``kind = "talk"``, or the one-key button's
        second press within ``talk_window_s``); returns once the agent made the request."""
        item = self._input(zone, ButtonInput)
        talk = self.agent.live.talk
        with self._action_lock:
            asked = talk.asked
            self._set_contact(item, item.pin, closed=not self._rest_closed(item))
            deadline = time.monotonic() + item.debounce_ms / 1000 + ACTION_MARGIN_S
            while talk.asked == asked:
                if time.monotonic() > deadline:
                    raise SimulatorError(f"{self.device_id}: zone {zone!r} asked no talk")
                time.sleep(0.005)
            self._set_contact(item, item.pin, closed=self._rest_closed(item))
            self._wait_cleared(zone, item)

    def trip(self, zone: str) -> wire.Event:
        """Put a detector (or button) contact in its alarm position; returns the alarm."""
        item = self._input(zone, DetectorInput, ButtonInput)
        with self._action_lock:
            mark = self._mark()
            self._set_contact(item, item.pin, closed=not self._rest_closed(item))
            return self._wait_event(zone, wire.State.ALARM, mark, item)

    def restore(self, zone: str) -> wire.Event | None:
        """Return a tripped contact to rest; the restore event, if the input reports one."""
        item = self._input(zone, DetectorInput, ButtonInput)
        assert isinstance(item, DetectorInput | ButtonInput)
        with self._action_lock:
            mark = self._mark()
            self._set_contact(item, item.pin, closed=self._rest_closed(item))
            self._wait_cleared(zone, item)
            if item.report_restore:
                return self._wait_event(zone, wire.State.RESTORE, mark, item)
            return None

    def cut(self, zone: str) -> wire.Event | None:
        """Cut the wire of a loop, a detector's supervision loop, or its contact.

        Returns the event the agent raised: ``trouble`` for a supervised wire,
        ``alarm`` for a normally-closed contact without supervision
        (fail-safe), and ``None`` (after a printed warning) when the wiring
        cannot detect a cut at all (normally-open contact without supervision).
        """
        item = self._input(zone, LoopInput, DetectorInput, ButtonInput)
        pin, state = self._cut_target(item)
        if state is None:
            self.say(f"WARNING cut {zone}: a normally-open contact without a supervision loop "
                     "cannot detect a cut wire; nothing is reported")
            with self._action_lock:
                self._set_contact(item, pin, closed=False)
            return None
        with self._action_lock:
            mark = self._mark()
            self._set_contact(item, pin, closed=False)
            return self._wait_event(zone, state, mark, item)

    def mend(self, zone: str) -> wire.Event | None:
        """Repair a cut wire; returns the restore event if one is reported."""
        item = self._input(zone, LoopInput, DetectorInput, ButtonInput)
        pin, state = self._cut_target(item)
        with self._action_lock:
            mark = self._mark()
            rest = True if pin != item.pin else self._rest_closed(item)
            self._set_contact(item, pin, closed=rest)
            if state is None:
                return None
            if state == wire.State.ALARM and not getattr(item, "report_restore", True):
                self._wait_cleared(zone, item)
                return None
            return self._wait_event(zone, wire.State.RESTORE, mark, item)

    def status(self) -> str:
        agent = self.agent
        states = ", ".join(f"{z}={s}" for z, s in agent.input_states().items()) or "no inputs"
        latest = agent.feedback.event
        led = (f"LED {latest.zone} {agent.feedback.stage} ({latest.event_id})" if latest
               else "LED idle")
        return (f"{'connected' if agent.connected else 'NOT connected'}; outbox "
                f"{agent.outbox.depth()} unconfirmed; next seq {agent.outbox.next_seq}; "
                f"{states}; {led}")

    # --- waiting ---------------------------------------------------------------------

    def wait_stage(self, event_id: str, stage: str, timeout: float = 10.0) -> bool:
        """Wait until the LED showed ``stage`` for ``event_id``; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (event_id, stage) not in {(e, s) for e, _z, s in self.stage_changes}:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def wait_drained(self, timeout: float = 10.0) -> bool:
        """Wait until central has stored every event (outbox empty); False on timeout."""
        deadline = time.monotonic() + timeout
        while self.agent.outbox.depth() > 0:
            if time.monotonic() > deadline or self._stopping.wait(0.02):
                return False
        return True

    # --- internals -------------------------------------------------------------------

    def say(self, text: str) -> None:
        if self.out is None:
            return
        with self._print_lock:
            print(f"[{self.device_id}] {text}", file=self.out, flush=True)

    def _on_event(self, event: wire.Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()
        self.say(f"event seq {event.seq}: {event.kind.value} {event.state.value} in "
                 f"{event.zone} ({event.event_id}){' [test]' if event.test else ''}")

    def _on_stage(self, event: wire.Event, stage: str) -> None:
        with self._cond:
            self.stage_changes.append((event.event_id, event.zone, stage))
            self._cond.notify_all()
        self.say(f"LED {event.zone} {event.state.value} {event.event_id}: {stage}")

    def _on_connection(self, connected: bool) -> None:
        self.say(f"{'connected to' if connected else 'disconnected from'} "
                 f"{self.config.broker.url}")

    def _input(self, zone: str, *types: type) -> InputConfig:
        try:
            item = self.config.input(zone)
        except KeyError as exc:
            raise SimulatorError(str(exc.args[0])) from None
        if not isinstance(item, types):
            wanted = " or ".join(t.__name__.removesuffix("Input").lower() for t in types)
            raise SimulatorError(f"zone {zone!r} is a {item.type}; this action needs a {wanted}")
        if not self.agent.running:
            raise SimulatorError("the simulator is not started")
        return item

    @staticmethod
    def _rest_closed(item: InputConfig) -> bool:
        """Is the main contact closed when nothing is happening?"""
        return rest_closed(item)

    def _cut_target(self, item: InputConfig) -> tuple[int, wire.State | None]:
        if isinstance(item, LoopInput):
            return item.pin, wire.State.TROUBLE
        if isinstance(item, DetectorInput) and item.supervision_pin is not None:
            return item.supervision_pin, wire.State.TROUBLE
        if item.contact == "normally_closed":
            return item.pin, wire.State.ALARM
        return item.pin, None

    def _set_contact(self, item: InputConfig, pin: int, *, closed: bool) -> None:
        assert isinstance(self.factory.pin(pin), MockPin)
        set_contact(self.factory, item, pin, closed=closed)

    def _mark(self) -> int:
        with self._cond:
            return len(self.events)

    def _wait_event(self, zone: str, state: wire.State, mark: int,
                    item: InputConfig) -> wire.Event:
        timeout = (item.debounce_ms + max(item.confirm_ms,
                                           getattr(item, "supervision_confirm_ms", 0))) / 1000
        deadline = time.monotonic() + timeout + ACTION_MARGIN_S
        with self._cond:
            while True:
                for event in self.events[mark:]:
                    if event.zone == zone and event.state == state:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SimulatorError(f"{self.device_id}: no {state.value} event for zone "
                                         f"{zone!r} within {timeout + ACTION_MARGIN_S:.1f}s")
                self._cond.wait(remaining)

    def _wait_cleared(self, zone: str, item: InputConfig) -> None:
        """Wait until the agent's filter saw the contact back at rest."""
        contact = self.agent.inputs[zone].main
        deadline = time.monotonic() + item.debounce_ms / 1000 + ACTION_MARGIN_S
        while contact.filter.raised or contact.filter.raw:
            if time.monotonic() > deadline:
                raise SimulatorError(f"{self.device_id}: zone {zone!r} did not return to rest")
            time.sleep(0.005)
