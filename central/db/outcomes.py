"""What the writer's last commits did, for ``/healthz`` (:mod:`central.health`).

:class:`CommitLog` is fed by :func:`central.db.connection.observe_commits` on the
writer's connection (every outermost ``write_tx``: ingest, actions, supervision,
the health probe) and by the writer for a job that raised an SQLite error. Only
errors that say something about the database or its disk count (``OperationalError``,
``DatabaseError``: full, locked, I/O error, corrupt, read-only); a constraint the
code tripped (``IntegrityError``) or a programming error is a bug, not ill health.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

#: Error classes that are the code's fault, not the database's or the disk's.
_NOT_HEALTH = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError,
               sqlite3.DataError, sqlite3.NotSupportedError)


@dataclass(frozen=True)
class CommitFailure:
    """One failed write: SQLite's error name (``SQLITE_FULL``), its message, when."""

    code: str
    message: str
    at: datetime
    monotonic: float


class CommitLog:
    """Thread-safe: the last successful commit and the last failure."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_ok_at: datetime | None = None
        self._last_ok_mono: float | None = None
        self.last_failure: CommitFailure | None = None
        #: True when the most recent outcome was a failure.
        self.failing = False

    def record(self, outcome: sqlite3.Error | None) -> None:
        """None: a commit succeeded. An error: it failed (ignored unless a health error)."""
        now, mono = datetime.now(UTC), time.monotonic()
        with self._lock:
            if outcome is None:
                self.last_ok_at, self._last_ok_mono, self.failing = now, mono, False
                return
            if isinstance(outcome, _NOT_HEALTH):
                return
            code = getattr(outcome, "sqlite_errorname", None) or type(outcome).__name__
            self.last_failure = CommitFailure(code, str(outcome), now, mono)
            self.failing = True

    def ok_age_s(self) -> float | None:
        """Seconds since the last successful commit (None: none yet)."""
        with self._lock:
            mono = self._last_ok_mono
        return None if mono is None else time.monotonic() - mono

    def failure_age_s(self) -> float | None:
        with self._lock:
            failure = self.last_failure
        return None if failure is None else time.monotonic() - failure.monotonic
