"""systemd integration of the agent: ``READY=1``, ``STATUS=``, ``WATCHDOG=1``, ``STOPPING=1``.

``WATCHDOG=1`` is sent (every half ``WatchdogSec=``) ONLY while the agent is
healthy:

* its main loop ticks (the last tick is at most :data:`LOOP_STALL_S` old), and
* its MQTT link is up, or has been down for at most ``watchdog_link_grace_s``.

When either fails, the pings stop (``STATUS=`` says why) and systemd kills and
restarts the agent after ``WatchdogSec=``: a hung loop or a link that paho
cannot bring back (stuck TLS state, a wedged network stack) gets a fresh
process. Events are safe across the restart: they are in the on-disk outbox.
Without ``$NOTIFY_SOCKET`` (not under systemd) this does nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from alarmlink.sdnotify import Notifier

logger = logging.getLogger(__name__)

#: The main loop turns at least once a second (agent.IDLE_WAKE_S); a pass older than
#: this means it is stuck.
LOOP_STALL_S = 10.0
#: STATUS= refresh period when systemd set no watchdog.
STATUS_PERIOD_S = 10.0


class _Depth(Protocol):
    def depth(self) -> int: ...


class _Grace(Protocol):
    @property
    def watchdog_link_grace_s(self) -> float: ...


class Watched(Protocol):
    """What the watchdog reads of the agent it watches (``Agent`` has all of it)."""

    @property
    def device_id(self) -> str: ...

    @property
    def last_tick_at(self) -> float | None:
        """``time.monotonic()`` of the main loop's last tick; None before the first."""

    @property
    def connected(self) -> bool: ...

    @property
    def outbox(self) -> _Depth: ...

    @property
    def config(self) -> _Grace: ...


class Watchdog:
    """Tells systemd the agent is ready, alive and healthy (see the module docstring)."""

    def __init__(self, agent: Watched, notifier: Notifier | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.agent = agent
        self.notifier = notifier or Notifier()
        self.clock = clock
        self._link_down_since: float | None = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._healthy = True

    def health(self) -> tuple[bool, str]:
        """``(healthy, status text)`` now."""
        now = self.clock()
        last_tick = self.agent.last_tick_at
        if last_tick is None or now - last_tick > LOOP_STALL_S:
            stalled = "never ran" if last_tick is None else f"stalled {now - last_tick:.0f} s"
            return False, f"main loop {stalled}: watchdog withheld"
        depth = self.agent.outbox.depth()
        if self.agent.connected:
            self._link_down_since = None
            return True, f"connected; outbox {depth}"
        if self._link_down_since is None:
            self._link_down_since = now
        down = now - self._link_down_since
        grace = self.agent.config.watchdog_link_grace_s
        if down > grace:
            return False, (f"MQTT link down {down:.0f} s > watchdog_link_grace_s {grace:g}: "
                           f"watchdog withheld; outbox {depth}")
        return True, f"MQTT link down {down:.0f} s, reconnecting; outbox {depth}"

    def start(self) -> None:
        """Send ``READY=1`` and start pinging (if systemd asked for a watchdog)."""
        if not self.notifier.enabled:
            return
        self.notifier.ready(f"started {self.agent.device_id}")
        interval = self.notifier.watchdog_interval_s
        period = interval / 2 if interval else STATUS_PERIOD_S
        self._thread = threading.Thread(target=self._run, args=(period, interval is not None),
                                        name="sd-watchdog", daemon=True)
        self._thread.start()
        logger.info("systemd notify: ready; %s", f"watchdog ping every {period:g} s"
                    if interval else "no watchdog requested")

    def _run(self, period: float, ping: bool) -> None:
        while not self._stop.wait(period):
            healthy, status = self.health()
            if healthy != self._healthy:
                log = logger.info if healthy else logger.error
                log("%s: health %s: %s", self.agent.device_id,
                    "restored" if healthy else "LOST", status)
                self._healthy = healthy
            if healthy and ping:
                self.notifier.send("WATCHDOG=1", f"STATUS={status}")
            else:
                self.notifier.status(status)

    def stop(self) -> None:
        """Stop pinging and send ``STOPPING=1``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self.notifier.enabled:
            self.notifier.stopping(f"stopping {self.agent.device_id}")
