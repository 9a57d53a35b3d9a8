"""Per-device log lines that turn into a summary when they come in a storm.

A device's status change is worth one log line; 10,000 of them after a broker restart
bury the log and cost central a third of its ingest time. :class:`BurstLog` logs the
first ``per_window`` lines of each ``window_s`` one by one, counts the rest by kind, and
logs one summary line for them when the window is over (at the next line after it).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable


class BurstLog:
    """At most ``per_window`` lines per ``window_s`` seconds, then counts and a summary.

    Not thread-safe by itself: each user calls it from one thread (ingest's writer)."""

    def __init__(self, logger: logging.Logger, what: str, *, per_window: int = 50,
                 window_s: float = 10.0, level: int = logging.INFO,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.what = what
        self.per_window = per_window
        self.window_s = window_s
        self.level = level
        self.clock = clock
        self._start = clock()
        self._lines = 0
        self._held: Counter[str] = Counter()

    def log(self, kind: str, msg: str, *args: object) -> None:
        """Log ``msg % args`` (lazily), or count it under ``kind`` in a storm."""
        now = self.clock()
        if now - self._start >= self.window_s:
            self._summary()
            self._start, self._lines = now, 0
        if self._lines < self.per_window:
            self._lines += 1
            self.logger.log(self.level, msg, *args)
        else:
            self._held[kind] += 1

    def _summary(self) -> None:
        if not self._held:
            return
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(self._held.items()))
        self.logger.log(self.level, "%d more %s in %g s not logged one by one (%s)",
                        sum(self._held.values()), self.what, self.window_s, counts)
        self._held.clear()
