"""The durable outbox: every event is committed to SQLite before anything is published.

File: ``{state_dir}/outbox-{device_id}.sqlite3`` (see ``AgentConfig.outbox_path``),
WAL journal with ``synchronous=FULL`` so a committed event survives a power cut. An
input's event (the agent's alarm path) is committed without its fsync, published, then
synced (:meth:`Outbox.sync`): the alarm leaves while the SD card writes, and the outbox
holds it durably before anything can confirm it.

Rules (docs/architecture.md, "The delivery rule"):

- :meth:`Outbox.add` allocates the next ``seq`` and stores the encoded
  :class:`~alarmlink.wire.Event` in ONE transaction. ``seq`` lives in a ``meta``
  table, so it continues after a restart and is never reused, even when every
  row has been deleted.
- The stored payload bytes are what is published, every time: the same
  ``event_id`` and ``seq`` on every resend.
- A row is deleted only after :meth:`Outbox.confirm`, called when central's
  receipt for the event arrives (``stored``, or a later stage, which implies it).
  Confirming is in memory (paho's thread never waits for a disk write); the rows
  confirmed since are deleted by ONE transaction at the next :meth:`Outbox.flush`
  (the agent's loop calls it on every pass, so a drain of thousands of receipts
  costs a few fsyncs, not one per event). A confirmed row a crash left on disk is
  sent again after the restart and central answers it as a duplicate.
- :meth:`Outbox.depth` and :meth:`Outbox.contains` read an in-memory index of
  the unconfirmed events (loaded at open), never SQLite.
- :meth:`Outbox.due` lists events never sent, or sent longer ago than the resend
  interval (``resend_timeout_s``, doubling per attempt up to ``resend_max_s``, so
  a long central outage does not flood the broker's queue). After every
  reconnect :meth:`Outbox.mark_all_unsent` makes everything due at once.
  :meth:`Outbox.mark_sent_many` records a whole batch of publishes in one
  transaction; :meth:`Outbox.next_due_at` says when the next resend falls due.

Thread safe: one connection guarded by a lock (paho's thread confirms receipts
while the main loop adds and resends).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alarmlink import wire
from alarmlink.wal_sync import fsync_wal
from edge_agent import outbox_guard as guard

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: Event ids per ``DELETE ... IN (...)`` statement (well under SQLite's variable limit).
_DELETE_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    event_id   TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL UNIQUE,
    payload    BLOB NOT NULL,
    created_ts TEXT NOT NULL,
    sent_at    REAL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rejected (
    event_id    TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    payload     BLOB NOT NULL,
    reason      TEXT NOT NULL,
    rejected_at TEXT NOT NULL
);
"""


def open_store(path: Path, schema: str, *, synchronous: str) -> sqlite3.Connection:
    """An autocommit SQLite connection in WAL mode, shared across threads, with ``schema``.

    Used by the event outbox (``synchronous=FULL``: an alarm must survive a power cut)
    and the snapshot outbox. Raises OSError or sqlite3.Error.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.executescript(schema)
    return db


class OutboxError(RuntimeError):
    """The outbox file cannot be opened or written."""


@dataclass(frozen=True)
class Pending:
    """An unconfirmed event: its id, seq and the exact bytes to publish."""

    event_id: str
    seq: int
    payload: bytes
    attempts: int


class Outbox:
    """Durable, thread-safe queue of unconfirmed events for one device."""

    def __init__(self, path: Path, device_id: str, *, resend_timeout_s: float = 10.0,
                 resend_max_s: float = 120.0) -> None:
        self.path = Path(path)
        self.device_id = device_id
        self.resend_timeout_s = resend_timeout_s
        self.resend_max_s = max(resend_max_s, resend_timeout_s)
        self._lock = threading.Lock()
        #: event_id -> seq of every unconfirmed, unrejected event (depth and contains).
        self._ids: dict[str, int] = {}
        #: Confirmed in memory, not yet deleted on disk (the next flush() deletes them).
        self._confirmed: set[str] = set()
        #: Events were added with ``sync=False`` and no fsync has covered them yet.
        self._unsynced = False
        #: Set when a damaged or lost outbox was replaced (the agent raises a trouble).
        self.recovery: guard.Recovery | None = None
        try:
            self._mark = guard.read_mark(self.path)
            reason = guard.check(self.path)
            if reason == guard.EMPTY and self._mark == 0:
                reason = None  # created but never written, and nothing was ever numbered
            if reason is None and not self.path.exists() and self._mark > 1:
                reason = (f"the outbox file is missing, but events up to seq "
                          f"{self._mark - 1} or less were numbered")
            moved = guard.move_aside(self.path) if reason and self.path.exists() else None
            self._db = open_store(self.path, _SCHEMA, synchronous="FULL")
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)",
                             (SCHEMA_VERSION,))
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('next_seq', 1)")
            if reason:  # seq never goes back: a fresh outbox continues from the mark
                self._db.execute("UPDATE meta SET value = max(value, ?) "
                                 "WHERE key = 'next_seq'", (self._mark,))
            self._ids = {str(e): int(q) for e, q in
                         self._db.execute("SELECT event_id, seq FROM events")}
            if self.next_seq + 1 > self._mark:
                self._mark = self.next_seq + guard.SEQ_BLOCK
                guard.write_mark(self.path, self._mark)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        if reason:
            self.recovery = guard.Recovery(reason, moved, self.next_seq)
            logger.critical("outbox %s: %s; moved aside to %s, a fresh outbox continues at "
                            "seq %d. Events that were waiting in it may be lost: the station "
                            "is told by a trouble", self.path, reason, moved, self.next_seq)

    # --- writing ---------------------------------------------------------------------

    def add(self, *, kind: wire.Kind | str, state: wire.State | str, zone: str,
            source: wire.Source | str, ts: datetime | None = None,
            detail: Mapping[str, wire.DetailValue] | None = None,
            test: bool = False, sync: bool = True) -> wire.Event:
        """Allocate the next seq and commit the event durably. Returns the event.

        ``sync=False``: committed without its fsync (a crashed agent keeps it, a power
        cut may not) until :meth:`sync` or the next durable commit, so the caller can
        publish it first (see :meth:`sync`). Raises ``pydantic.ValidationError`` for an
        invalid event (nothing is stored then) and :class:`OutboxError` when the disk
        write fails.
        """
        with self._lock:
            try:
                if not sync:
                    self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    (seq,) = self._db.execute(
                        "SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
                    event = wire.Event(
                        event_id=wire.new_id(), device_id=self.device_id, seq=seq,
                        ts=ts or wire.utcnow(), kind=wire.Kind(kind),
                        state=wire.State(state), zone=zone, source=wire.Source(source),
                        test=test, detail=dict(detail or {}))
                    self._db.execute(
                        "INSERT INTO events(event_id, seq, payload, created_ts) "
                        "VALUES (?, ?, ?, ?)",
                        (event.event_id, seq, wire.encode(event), event.ts.isoformat()))
                    self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'",
                                     (seq + 1,))
                    if seq + 1 > self._mark:  # durable before the seq it covers commits
                        guard.write_mark(self.path, seq + 1 + guard.SEQ_BLOCK)
                        self._mark = seq + 1 + guard.SEQ_BLOCK
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                raise OutboxError(f"cannot write outbox {self.path}: {exc}") from exc
            finally:
                if not sync:
                    self._db.execute("PRAGMA synchronous=FULL")
            self._unsynced = self._unsynced or not sync
            self._ids[event.event_id] = seq
        logger.debug("outbox: committed event %s seq %d", event.event_id, event.seq)
        return event

    def sync(self) -> None:
        """Make the events added with ``sync=False`` durable: one fsync of the WAL, unless
        a durable commit since (recording a publish) has made them so already.

        The agent commits an input's event, publishes it, then syncs: the alarm leaves
        without waiting for the SD card. A crash in between loses nothing (the commit
        is in the file); a power cut may undo the commit after the alarm left, and the
        event is then central's, not the outbox's. Nothing is confirmed before central's
        receipt, which comes after this in practice and is applied after it anyway.
        Raises :class:`OutboxError` when the disk refuses.
        """
        with self._lock:
            if not self._unsynced:
                return
            try:
                fsync_wal(self.path)
            except OSError as exc:
                raise OutboxError(f"cannot sync outbox {self.path}: {exc}") from exc
            self._unsynced = False

    def mark_sent(self, event_id: str, now: float) -> None:
        """Record a publish attempt at ``now`` (monotonic seconds)."""
        self.mark_sent_many([event_id], now)

    def mark_sent_many(self, event_ids: list[str], now: float) -> None:
        """Record a publish attempt of each event at ``now``, in one transaction."""
        if not event_ids:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("UPDATE events SET sent_at = ?, attempts = attempts + 1 "
                                     "WHERE event_id = ?", [(now, e) for e in event_ids])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._unsynced = False  # a FULL commit synced the WAL, the adds before it too

    def mark_all_unsent(self) -> int:
        """Make every unconfirmed event due now (call on every reconnect)."""
        with self._lock:
            cursor = self._db.execute("UPDATE events SET sent_at = NULL")
            return cursor.rowcount

    def confirm(self, event_id: str) -> bool:
        """Central has stored the event: forget it now, delete its row at the next
        :meth:`flush`. True if it was pending. Never touches the disk."""
        with self._lock:
            if self._ids.pop(event_id, None) is None:
                return False
            self._confirmed.add(event_id)
            return True

    def flush(self) -> int:
        """Delete every row confirmed since the last flush, in one transaction.

        Returns how many. Raises :class:`OutboxError` when the disk refuses (the
        rows stay confirmed in memory and the next flush tries again).
        """
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> int:
        if not self._confirmed:
            return 0
        ids = list(self._confirmed)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for at in range(0, len(ids), _DELETE_CHUNK):
                    chunk = ids[at:at + _DELETE_CHUNK]
                    self._db.execute(f"DELETE FROM events WHERE event_id IN "
                                     f"({','.join('?' * len(chunk))})", chunk)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot write outbox {self.path}: {exc}") from exc
        self._confirmed.clear()
        return len(ids)

    def reject(self, event_id: str, reason: str) -> bool:
        """Central refused the event, or its stored bytes are damaged: stop resending it
        and keep it in ``rejected`` with the reason (``alarmlink agent status`` and the
        logs show it). True if it was pending."""
        with self._lock:
            self._flush_locked()
            self._ids.pop(event_id, None)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO rejected (event_id, seq, payload, reason, "
                    "rejected_at) SELECT event_id, seq, payload, ?, ? FROM events "
                    "WHERE event_id = ?", (reason[:500], wire.utcnow().isoformat(), event_id))
                moved = self._db.execute("DELETE FROM events WHERE event_id = ?",
                                         (event_id,)).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return moved > 0

    def rejected(self) -> list[tuple[str, int, str]]:
        """``(event_id, seq, reason)`` of every rejected event, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, seq, reason FROM rejected ORDER BY seq").fetchall()
        return [(str(e), int(s), str(r)) for e, s, r in rows]

    # --- reading ---------------------------------------------------------------------

    def due(self, now: float, limit: int = 100) -> list[Pending]:
        """Events never sent or whose resend interval has passed, oldest seq first."""
        # The interval of resend_interval(), in SQL, so an idle tick reads no rows.
        with self._lock:
            self._flush_locked()
            rows = self._db.execute(
                "SELECT event_id, seq, payload, attempts FROM events "
                "WHERE sent_at IS NULL OR ? - sent_at >= "
                "  min(? * (1 << min(max(attempts - 1, 0), 16)), ?) "
                "ORDER BY seq LIMIT ?",
                (now, self.resend_timeout_s, self.resend_max_s, limit)).fetchall()
        return [Pending(event_id, seq, bytes(payload), attempts)
                for event_id, seq, payload, attempts in rows]

    def next_due_at(self) -> float | None:
        """When the earliest sent, unconfirmed event falls due for a resend (monotonic
        seconds, as given to :meth:`mark_sent`); None when nothing was sent. An event
        never sent is due at once: :meth:`due` lists it, this does not."""
        with self._lock:
            (at,) = self._db.execute(
                "SELECT min(sent_at + min(? * (1 << min(max(attempts - 1, 0), 16)), ?)) "
                "FROM events WHERE sent_at IS NOT NULL",
                (self.resend_timeout_s, self.resend_max_s)).fetchone()
        return None if at is None else float(at)

    def resend_interval(self, attempts: int) -> float:
        """``resend_timeout_s * 2**(attempts-1)``, capped at ``resend_max_s``."""
        exponent = min(max(attempts - 1, 0), 16)
        return min(self.resend_timeout_s * (2 ** exponent), self.resend_max_s)

    def pending(self) -> list[wire.Event]:
        """Every unconfirmed event, decoded, oldest first."""
        with self._lock:
            self._flush_locked()
            rows = self._db.execute("SELECT payload FROM events ORDER BY seq").fetchall()
        return [wire.decode(wire.Event, bytes(payload)) for (payload,) in rows]

    def contains(self, event_id: str) -> bool:
        """Still waiting for central's receipt (in memory, no query)."""
        with self._lock:
            return event_id in self._ids

    def depth(self) -> int:
        """Unconfirmed events (in memory, no query)."""
        with self._lock:
            return len(self._ids)

    @property
    def next_seq(self) -> int:
        with self._lock:
            (value,) = self._db.execute(
                "SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        return int(value)

    def close(self) -> None:
        with self._lock:
            try:
                self._flush_locked()
            except OutboxError as exc:  # the rows are resent after a restart: duplicates only
                logger.warning("outbox %s: confirmed rows not deleted at close: %s",
                               self.path, exc)
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
