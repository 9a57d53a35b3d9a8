"""Bounded dead letters for unknown DC-09 accounts: count everything, keep a sample.

An unregistered panel (a new site not yet in the registry, a panel pointed at the wrong
receiver) retries every few seconds for as long as nobody fixes it; a scan of the port
can make up a new account per message. Each is NAKed, but storing each as a dead letter
would fill the table with copies and bury the real rejections. So per account the first
message is stored, then one per :data:`SAMPLE_S` carrying how many were suppressed since;
at most :data:`MAX_ACCOUNTS` accounts are tracked per period, further new accounts share
one sample slot. Every message is still counted (``suppressed`` and the log).
"""

from __future__ import annotations

import time
from collections.abc import Callable

SAMPLE_S = 60.0
MAX_ACCOUNTS = 256
OVERFLOW = "*"


class Sampler:
    """Decides which of a stream of keyed rejections are stored."""

    def __init__(self, sample_s: float = SAMPLE_S, max_keys: int = MAX_ACCOUNTS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.sample_s = sample_s
        self.max_keys = max_keys
        self._monotonic = monotonic
        self._last: dict[str, tuple[float, int]] = {}  # key -> (stored at, suppressed since)
        #: Rejections not stored, in total.
        self.suppressed = 0

    def admit(self, key: str) -> int | None:
        """``None``: do not store this one (counted). Else store it; the value is how many
        of ``key`` were suppressed since the last one stored."""
        now = self._monotonic()
        last = self._last
        if key not in last and len(last) >= self.max_keys:
            for old in [k for k, (at, _n) in last.items() if now - at >= self.sample_s]:
                del last[old]  # forget quiet accounts (a dict never grows past max_keys)
            if len(last) >= self.max_keys:
                key = OVERFLOW
        entry = last.get(key)
        if entry is not None and now - entry[0] < self.sample_s:
            last[key] = (entry[0], entry[1] + 1)
            self.suppressed += 1
            return None
        last[key] = (now, 0)
        return entry[1] if entry is not None else 0
