"""The venue's talk button: a request for the duty officer to talk (issue 18).

Two ways to ask, both configured on a ``button`` input of the agent's TOML:

* ``kind = "talk"``: a separate button; every press asks, no alarm is raised;
* ``talk_window_s = 5`` on the one-key alarm button: its first press raises the alarm as
  always, a second press within the window asks to talk (instead of a second alarm).

A request is one :class:`alarmlink.wire.RtcSignal` of kind ``talk_request`` on
``rtc/reply`` (QoS 1). Made while the link is down, it is kept (the latest per zone) and
sent when the link is back. ``on_asked`` is told of every request (the talk LED starts
its slow blink: :meth:`edge_agent.feedback.Feedback.talk_asked`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from alarmlink import wire
from edge_agent.config import ButtonInput
from edge_agent.inputs import AlarmInput, InputChange

logger = logging.getLogger(__name__)

Callback = Callable[[InputChange], None]


class TalkRequests:
    """Turns talk presses into ``talk_request`` signals."""

    def __init__(self, device_id: str, publish: Callable[[wire.RtcSignal], bool],
                 clock: Callable[[], float] = time.monotonic,
                 on_asked: Callable[[], None] = lambda: None) -> None:
        self.device_id = device_id
        self.publish = publish
        self.clock = clock
        self.on_asked = on_asked
        #: Requests made since the agent started.
        self.asked = 0
        self._last_press: dict[str, float] = {}
        self._pending: dict[str, wire.RtcSignal] = {}
        self._lock = threading.Lock()

    def wrap(self, item: AlarmInput, on_input: Callback) -> Callback:
        """The callback for ``item``: ``on_input`` unless the input can ask to talk."""
        config = item.config
        if not isinstance(config, ButtonInput):
            return on_input
        if config.kind == "talk":
            return self._talk_only
        if config.talk_window_s <= 0:
            return on_input
        window = config.talk_window_s

        def second_press(change: InputChange) -> None:
            if change.state == wire.State.ALARM:
                now = self.clock()
                previous = self._last_press.get(change.zone)
                self._last_press[change.zone] = now
                if previous is not None and now - previous <= window:
                    self.request(change.zone)
                    return
            on_input(change)

        return second_press

    def _talk_only(self, change: InputChange) -> None:
        if change.state == wire.State.ALARM:
            self.request(change.zone)

    def request(self, zone: str) -> None:
        """Ask the duty officer to talk; kept for :meth:`flush` when not connected."""
        signal = wire.RtcSignal(session_id=wire.new_id(), kind=wire.RtcKind.TALK_REQUEST,
                                ts=wire.utcnow(), zone=zone)
        self.asked += 1
        self.on_asked()
        if self.publish(signal):
            logger.info("%s: talk requested (zone %s)", self.device_id, zone)
            return
        with self._lock:
            self._pending[zone] = signal
        logger.warning("%s: talk request from zone %s kept: not connected to the broker; "
                       "sent when the link is back", self.device_id, zone)

    def flush(self) -> None:
        """Send the requests kept while the link was down (call on connect)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for zone, signal in pending.items():
            if not self.publish(signal):
                with self._lock:
                    self._pending.setdefault(zone, signal)
