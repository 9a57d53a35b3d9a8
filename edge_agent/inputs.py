"""GPIO inputs: one-key buttons, detector relay contacts and supervision loops.

The pins are read through gpiozero ``DigitalInputDevice`` objects created with
an injectable ``pin_factory`` (``gpiozero.pins.mock.MockFactory`` in tests and
simulators) and ``bounce_time=None``. Debounce and confirmation time are done
here, in :class:`ContactFilter`, a small pure state machine fed with
``(level, t)`` samples and polled with a clock, because gpiozero's mock pins
do not simulate ``bounce_time`` and because a smoke detector's alarm must
persist for a confirmation time before it is raised.

What each contact means (``pull_up = true``: the contact switches the pin to
ground, so closed = low):

=================  ==================  ===========================================
input              contact             reported
=================  ==================  ===========================================
button             normally_open       closed = alarm (``kind``, default panic)
detector           normally_open       closed = alarm; a cut wire is *invisible*
detector           normally_closed     open = alarm. **Fail-safe**: without a
                                       supervision loop a cut wire or an unpowered
                                       detector is indistinguishable from an alarm,
                                       so it is reported as an alarm.
detector           supervision_pin     open = trouble (kind trouble), closed again =
                                       restore (kind trouble)
loop               (always NC)         open = trouble (``kind``), closed = restore
=================  ==================  ===========================================

An input that is already in its alarm or trouble position when the agent
starts is reported once it has been stable for debounce + confirm time.

Edges are recorded on gpiozero's thread and announced through
:meth:`AlarmInput.set_edge_hook`; :meth:`AlarmInput.next_due` says when a pending
debounce or confirmation ends, so the owner polls only then (the agent's loop is
event-driven: no fixed poll period).

Callbacks follow gpiozero's style: assign ``when_alarm``, ``when_restore`` and
``when_trouble`` on an :class:`AlarmInput`; each is called with an
:class:`InputChange` from the thread that calls :meth:`AlarmInput.poll` (the
agent's main loop), never from gpiozero's edge thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from gpiozero import DigitalInputDevice

from alarmlink import wire
from edge_agent.config import ButtonInput, DetectorInput, InputConfig, LoopInput

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
InputState = Literal["normal", "alarm", "trouble"]


class ContactFilter:
    """Debounce and confirmation for one contact; pure, driven by an injected time.

    ``feed(active, t)`` records a raw sample (``active`` = the contact is in its
    alarm/trouble position). ``poll(t)`` returns ``"raise"`` once the contact has
    been continuously active for ``debounce_s`` and then ``confirm_s`` more
    (measured from the raw change), ``"clear"`` once a raised contact has been
    continuously inactive for ``debounce_s``, and ``None`` otherwise. A blip
    shorter than debounce + confirm is never reported, and a raise is always
    followed by at most one clear.
    """

    def __init__(self, debounce_s: float, confirm_s: float, *, active: bool = False,
                 t: float = 0.0) -> None:
        if debounce_s < 0 or confirm_s < 0:
            raise ValueError("debounce and confirm times must be >= 0")
        self.debounce_s = debounce_s
        self.confirm_s = confirm_s
        self.raised = False
        self._raw = active
        self._changed_at = t

    def reset(self, active: bool, t: float) -> None:
        """Start over from a known raw level at ``t`` (nothing raised)."""
        self.raised = False
        self._raw = active
        self._changed_at = t

    @property
    def raw(self) -> bool:
        return self._raw

    def feed(self, active: bool, t: float) -> None:
        if active != self._raw:
            self._raw = active
            self._changed_at = t

    def poll(self, t: float) -> Literal["raise", "clear"] | None:
        stable_for = t - self._changed_at
        if self._raw and not self.raised and stable_for >= self.debounce_s + self.confirm_s:
            self.raised = True
            return "raise"
        if not self._raw and self.raised and stable_for >= self.debounce_s:
            self.raised = False
            return "clear"
        return None

    def next_due(self) -> float | None:
        """When :meth:`poll` may next return something without a new sample; None: never."""
        if self._raw and not self.raised:
            return self._changed_at + self.debounce_s + self.confirm_s
        if not self._raw and self.raised:
            return self._changed_at + self.debounce_s
        return None


@dataclass(frozen=True)
class InputChange:
    """A confirmed change of one input, ready to become a wire event."""

    zone: str
    kind: wire.Kind
    state: wire.State
    detail: dict[str, wire.DetailValue]


Callback = Callable[[InputChange], None]


class _Contact:
    """One gpiozero pin plus its filter. ``alarm_when_closed`` maps contact to meaning."""

    def __init__(self, pin: int, *, pull_up: bool, alarm_when_closed: bool, debounce_s: float,
                 confirm_s: float, pin_factory: Any, clock: Clock) -> None:
        self.pin = pin
        self.alarm_when_closed = alarm_when_closed
        self.device = DigitalInputDevice(pin, pull_up=pull_up, bounce_time=None,
                                         pin_factory=pin_factory)
        self._lock = threading.Lock()
        self._clock = clock
        #: Called after every edge (from gpiozero's thread): the agent's loop wakes up.
        self.on_edge: Callable[[], None] | None = None
        # is_active = contact closed (gpiozero inverts the level for pull-ups).
        self.filter = ContactFilter(debounce_s, confirm_s, active=self._active_now(),
                                    t=clock())
        self.device.when_activated = self._edge
        self.device.when_deactivated = self._edge

    def _active_now(self) -> bool:
        return bool(self.device.is_active) == self.alarm_when_closed

    def _edge(self) -> None:
        # gpiozero's edge thread (or the mock's caller): record, decide later in poll().
        active = self._active_now()
        with self._lock:
            self.filter.feed(active, self._clock())
        on_edge = self.on_edge
        if on_edge is not None:
            on_edge()

    def arm(self, t: float) -> None:
        with self._lock:
            self.filter.reset(self._active_now(), t)

    def poll(self, t: float) -> Literal["raise", "clear"] | None:
        active = self._active_now()  # also catches an edge the callback missed
        with self._lock:
            self.filter.feed(active, t)
            return self.filter.poll(t)

    def next_due(self) -> float | None:
        with self._lock:
            return self.filter.next_due()

    @property
    def closed(self) -> bool:
        return bool(self.device.is_active)

    def close(self) -> None:
        self.device.when_activated = None
        self.device.when_deactivated = None
        self.device.close()


class AlarmInput:
    """One configured input (zone). Poll it; it calls ``when_alarm`` etc. on changes."""

    def __init__(self, config: InputConfig, *, pin_factory: Any = None,
                 clock: Clock = time.monotonic) -> None:
        self.config = config
        self.zone = config.zone
        # a talk button raises no event (edge_agent/talk.py takes its presses)
        self.kind = wire.Kind.PANIC if config.kind == "talk" else wire.Kind(config.kind)
        self.when_alarm: Callback | None = None
        self.when_restore: Callback | None = None
        self.when_trouble: Callback | None = None
        self._clock = clock
        debounce = config.debounce_ms / 1000
        if isinstance(config, LoopInput):
            alarm_when_closed = False
        else:
            alarm_when_closed = config.contact == "normally_open"
        self.main = _Contact(config.pin, pull_up=config.pull_up,
                             alarm_when_closed=alarm_when_closed, debounce_s=debounce,
                             confirm_s=config.confirm_ms / 1000, pin_factory=pin_factory,
                             clock=clock)
        self.supervision: _Contact | None = None
        if isinstance(config, DetectorInput) and config.supervision_pin is not None:
            try:
                self.supervision = _Contact(
                    config.supervision_pin, pull_up=config.pull_up, alarm_when_closed=False,
                    debounce_s=debounce, confirm_s=config.supervision_confirm_ms / 1000,
                    pin_factory=pin_factory, clock=clock)
            except Exception:
                self.main.close()
                raise

    def set_edge_hook(self, hook: Callable[[], None] | None) -> None:
        """Call ``hook`` (from gpiozero's edge thread) after every edge on the input's pins,
        so an event-driven owner polls at once instead of on a fixed period."""
        self.main.on_edge = hook
        if self.supervision is not None:
            self.supervision.on_edge = hook

    def next_due(self) -> float | None:
        """The clock time at which :meth:`poll` may next confirm a change; None: only a
        new edge can change anything."""
        dues = [c.next_due() for c in (self.main, self.supervision) if c is not None]
        return min((d for d in dues if d is not None), default=None)

    @property
    def is_trouble_loop(self) -> bool:
        return isinstance(self.config, LoopInput)

    @property
    def state(self) -> InputState:
        """``alarm`` beats ``trouble`` beats ``normal`` (confirmed states only)."""
        if self.main.filter.raised:
            return "trouble" if self.is_trouble_loop else "alarm"
        if self.supervision is not None and self.supervision.filter.raised:
            return "trouble"
        return "normal"

    def arm(self) -> None:
        """Start from the current pin levels; an input already active will be reported."""
        now = self._clock()
        self.main.arm(now)
        if self.supervision is not None:
            self.supervision.arm(now)

    def poll(self, now: float | None = None) -> list[InputChange]:
        """Advance the filters to ``now``; fire callbacks for confirmed changes."""
        now = self._clock() if now is None else now
        changes: list[InputChange] = []
        result = self.main.poll(now)
        if result is not None:
            change = self._main_change(result)
            if change is not None:
                changes.append(change)
        if self.supervision is not None:
            result = self.supervision.poll(now)
            if result is not None:
                state = wire.State.TROUBLE if result == "raise" else wire.State.RESTORE
                changes.append(InputChange(self.zone, wire.Kind.TROUBLE, state, self._detail(
                    self.supervision, "supervision loop open" if result == "raise"
                    else "supervision loop closed")))
        for change in changes:
            self._fire(change)
        return changes

    def _main_change(self, result: str) -> InputChange | None:
        config = self.config
        if isinstance(config, LoopInput):
            state = wire.State.TROUBLE if result == "raise" else wire.State.RESTORE
            return InputChange(self.zone, self.kind, state, self._detail(
                self.main, "loop open" if result == "raise" else "loop closed"))
        if result == "raise":
            note = ("contact open (normally closed: alarm or cut wire)"
                    if config.contact == "normally_closed" else "contact closed")
            return InputChange(self.zone, self.kind, wire.State.ALARM,
                               self._detail(self.main, note))
        if isinstance(config, ButtonInput | DetectorInput) and config.report_restore:
            return InputChange(self.zone, self.kind, wire.State.RESTORE,
                               self._detail(self.main, "contact back to normal"))
        return None

    def _detail(self, contact: _Contact, note: str) -> dict[str, wire.DetailValue]:
        return {"input": self.config.type, "pin": f"GPIO{contact.pin}", "note": note}

    def _fire(self, change: InputChange) -> None:
        callback = {wire.State.ALARM: self.when_alarm, wire.State.RESTORE: self.when_restore,
                    wire.State.TROUBLE: self.when_trouble}[change.state]
        if callback is None:
            return
        try:
            callback(change)
        except Exception:  # a callback bug must not stop the other inputs being read
            logger.exception("input %s: callback for %s failed", self.zone, change.state)

    def close(self) -> None:
        self.main.close()
        if self.supervision is not None:
            self.supervision.close()


def build_inputs(configs: list[InputConfig], *, pin_factory: Any = None,
                 clock: Clock = time.monotonic) -> dict[str, AlarmInput]:
    """Create every configured input, by zone. Closes what it opened if one fails."""
    built: dict[str, AlarmInput] = {}
    try:
        for config in configs:
            built[config.zone] = AlarmInput(config, pin_factory=pin_factory, clock=clock)
    except Exception:
        for item in built.values():
            item.close()
        raise
    return built
