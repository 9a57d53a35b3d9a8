"""Supervision of one serial link: when to report ``trouble`` and when ``restore``.

:class:`LinkWatch` is pure: the reader tells it what happened (port opened, port lost,
valid frame) with a monotonic time, and :meth:`LinkWatch.poll` answers whether a
trouble or a restore is due. Rules:

- **Loss.** The link is *unhealthy* from the moment the port fails (or, at start, from
  before the first open) until it is healthy again: a valid frame arrives, or the port
  stays open for ``stable_s``. Unhealthy for ``loss_s`` -> one ``trouble``. A port that
  keeps reopening and failing never becomes healthy, so a flaky adapter is reported too.
- **Silence** (``silence_s`` > 0): the port is open but no valid frame arrived for
  ``silence_s`` (counted from the last frame, or from the start; reopening the port does
  not reset it) -> one ``trouble``.
- **Restore.** After a reported trouble: the link is healthy again and, when silence is
  supervised, a valid frame has arrived since the trouble. Then one ``restore``.

At most one trouble is outstanding at a time, and a restore is only ever sent for a
reported trouble: no flapping pairs while the port bounces, no restore from nothing.
"""

from __future__ import annotations

from typing import Literal, NamedTuple


class Transition(NamedTuple):
    """A due report: ``trouble`` or ``restore``, with the reason in words."""

    state: Literal["trouble", "restore"]
    reason: str
    duration_s: float


class LinkWatch:
    """Trouble/restore decisions for one link (rules in the module docstring)."""

    def __init__(self, loss_s: float, silence_s: float = 0.0, stable_s: float = 5.0, *,
                 now: float) -> None:
        if loss_s <= 0 or silence_s < 0 or stable_s < 0:
            raise ValueError("loss_s must be > 0, silence_s and stable_s >= 0")
        self.loss_s = loss_s
        self.silence_s = silence_s
        self.stable_s = stable_s
        self.open = False
        self.unhealthy_since: float | None = now
        self.reason = "port not opened yet"
        self.opened_at: float | None = None
        self.last_frame: float | None = None
        self._quiet_since = now
        #: Reason of the outstanding (reported) trouble, else None.
        self.trouble: str | None = None
        self._trouble_at = 0.0
        self._frame_since_trouble = False

    @property
    def healthy(self) -> bool:
        return self.open and self.unhealthy_since is None

    def opened(self, t: float) -> None:
        self.open = True
        self.opened_at = t

    def lost(self, t: float, reason: str) -> None:
        """The port failed or could not be opened at ``t``."""
        self.open = False
        self.opened_at = None
        self.reason = reason
        if self.unhealthy_since is None:
            self.unhealthy_since = t

    def frame(self, t: float) -> None:
        """A valid frame or message arrived at ``t``."""
        self.last_frame = t
        self._quiet_since = t
        if self.open:
            self.unhealthy_since = None
        if self.trouble is not None:
            self._frame_since_trouble = True

    def poll(self, t: float) -> Transition | None:
        """The report due at ``t``, if any (at most one per call)."""
        if (self.open and self.unhealthy_since is not None and self.opened_at is not None
                and t - self.opened_at >= self.stable_s):
            self.unhealthy_since = None
        if self.trouble is None:
            if self.unhealthy_since is not None and t - self.unhealthy_since >= self.loss_s:
                return self._raise(t, f"port lost: {self.reason}", t - self.unhealthy_since)
            silent_for = self.silent_for(t)
            if self.silence_s and silent_for is not None and silent_for >= self.silence_s:
                return self._raise(t, f"no valid frame for {silent_for:.0f} s", silent_for)
            return None
        if self.healthy and (not self.silence_s or self._frame_since_trouble):
            reason = self.trouble
            self.trouble = None
            return Transition("restore", f"link back after: {reason}", t - self._trouble_at)
        return None

    def silent_for(self, t: float) -> float | None:
        """Seconds without a valid frame while open (None while the port is not open)."""
        return t - self._quiet_since if self.open else None

    def _raise(self, t: float, reason: str, duration: float) -> Transition:
        self.trouble = reason
        self._trouble_at = t
        self._frame_since_trouble = False
        return Transition("trouble", reason, duration)
