"""Whether central itself hears the devices, and the doubt window for last wills.

Central judges silence only while it can hear the broker itself: while its own MQTT
connection is down, or while its ingest is far behind, nobody is declared silent (that
would be central's outage, not the devices'). A stopping broker publishes every device's
last will, and central's session delivers them again after the reconnect, so a will noted
from shortly before central lost the broker until ``silence_s`` after it hears it again
counts as silence (:func:`central.supervision_rules.doubtful_will`).

:class:`LinkWatch` keeps that state for :class:`central.supervision.Supervisor`, which
feeds it once per pass (:meth:`LinkWatch.update`). Central's connection count
(:attr:`central.mqtt_bridge.MqttBridge.epoch`) shows even a reconnect between two passes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from central.db import iso
from central.supervision_config import SupervisionConfig

logger = logging.getLogger("central.supervision")

#: Last wills noted this long before central's loss of the broker are doubtful too: a
#: stopping broker sends them just before it closes central's connection.
WILL_MARGIN = timedelta(seconds=2)
#: Ingest this far behind (seconds) counts as not hearing the devices, until it is back
#: under :data:`CAUGHT_UP_S` (after a broker restart central works through every device's
#: will and status; heartbeats wait behind them).
BEHIND_S = 5.0
CAUGHT_UP_S = 1.0


class LinkWatch:
    """Since when central hears the devices, and since when last wills are doubtful."""

    def __init__(self, config: SupervisionConfig, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.clock = clock
        #: Central hears the broker (and is not far behind) since then; None: it does not.
        self.listening_since: datetime | None = None
        #: Last wills noted since then are doubtful (central lost the broker around them).
        self.doubt_from: datetime | None = None
        self._doubt_until: datetime | None = None
        self._epoch: int | None = None
        self._behind = False
        self._created = clock()

    def update(self, listening: bool, epoch: int | None, lag_s: float,
               checked_at: datetime | None) -> bool:
        """Note what central hears now; True when it lost the broker or started hearing it
        again (the caller rebuilds its deadlines). ``checked_at``: the last pass."""
        now = self.clock()
        if not self._behind and lag_s > BEHIND_S:
            self._behind = True
            logger.warning("supervision: central is %.1f s behind on what devices sent; "
                           "device silence is not judged until it catches up", lag_s)
        elif self._behind and lag_s < CAUGHT_UP_S:
            self._behind = False
            logger.info("supervision: central caught up with what devices sent")
        listening = listening and not self._behind
        lost = (not listening and self.listening_since is not None) or (
            listening and self.listening_since is not None and epoch is not None
            and self._epoch is not None and epoch != self._epoch)
        # central connected and lost the broker again between two passes, before any pass
        # saw it listening (a broker stopping within a second of central's start): the
        # wills of that connection are as doubtful as after any other loss
        missed = (not listening and self.listening_since is None and epoch is not None
                  and epoch >= 1 and epoch != self._epoch)
        if missed and self._window_over(now):
            self.doubt_from = (checked_at or self._created) - WILL_MARGIN
            self._doubt_until = None
        changed = False
        if lost:
            # the loss happened after the last pass; wills the stopping broker sent came
            # just before it (and may have been taken in that pass). Still inside the last
            # loss's window (central fell behind right after a reconnect): it goes on.
            if self._window_over(now):
                self.doubt_from = (checked_at or now) - WILL_MARGIN
            self._doubt_until = None
            self.listening_since = None
            changed = True
            if not listening and not self._behind:
                logger.warning("supervision: central cannot hear the broker; device silence "
                               "is not judged until it can, and last wills count as silence")
        if epoch is not None:
            self._epoch = epoch
        if listening and self.listening_since is None:
            self.listening_since = now
            self._doubt_until = now + timedelta(seconds=max(
                (c.silence_s for c in self.config.classes.values()), default=0.0))
            changed = True
            logger.info("supervision: listening to devices since %s", iso(now))
            if self.doubt_from is not None:
                logger.info("supervision: last wills noted from %s until each class's "
                            "silence_s after that count as silence", iso(self.doubt_from))
        return changed

    def _window_over(self, now: datetime) -> bool:
        """No doubt window yet, or the last one is over (a new loss opens a new one)."""
        return self.doubt_from is None or (self._doubt_until is not None
                                           and now > self._doubt_until)

    def doubting(self, now: datetime) -> bool:
        """Central lost the broker lately: from the loss until the longest ``silence_s``
        after it heard it again (wills then count as silence, reconnects are not counted
        against a device: :class:`central.reconnects.ReconnectWatch`)."""
        if self.doubt_from is None or now < self.doubt_from:
            return False
        return self._doubt_until is None or now <= self._doubt_until
