"""The snapshot outbox (SQLite, bounded) and its sender thread.

File: ``{state_dir}/snapshots-{device_id}.sqlite3``, apart from the event
outbox, so pictures can never crowd out or slow down an alarm event.

Budget. The outbox holds at most ``outbox_max_frames`` frames and
``outbox_max_bytes`` bytes, so a long broker outage cannot fill the SD card.
When a new frame would break the budget, frames are dropped in this order:
the oldest *routine* frames first (live view, snapshot-now, frames of test,
trouble and restore events), then the oldest *evidence* frames (pre, alarm
and post frames of a real alarm). Alarm events live in the event outbox and are
never touched. Drops are counted (``dropped_routine``, ``dropped_evidence``).

Sending. A frame is published only once its event has left the event outbox
(central's ``stored`` receipt came back), so at central the event is always
stored before any of its pictures. Evidence goes before routine frames, oldest
first, with at most :data:`MAX_INFLIGHT` unacknowledged frames on the wire so
that a backlog of pictures never sits in front of a new alarm event.

Delivery guarantee. A frame is deleted when the broker's PUBACK for it arrives
(QoS 1). Central holds a persistent session with a QoS 1 subscription, so the
broker queues frames for it while it is down. Weakness: a PUBACK means "the
broker has it", not "central stored it". Frames lost inside the broker (its
queue limit, a crash before it saved its persistence file) or dead-lettered by
central are not resent. Events do not have this weakness: they wait for
central's own receipt.

``synchronous=NORMAL``: a power cut may lose the last frames written, never
an event (which are in the other, FULL-synchronous file), and the SD card is
spared an fsync per frame.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from alarmlink import wire
from edge_agent.outbox import open_store

logger = logging.getLogger(__name__)

#: Frames published but not yet PUBACKed, at most.
MAX_INFLIGHT = 4
#: An in-flight frame not acknowledged after this long (while connected) is sent again.
INFLIGHT_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    seq      INTEGER NOT NULL UNIQUE,
    event_id TEXT NOT NULL,
    phase    TEXT NOT NULL,
    evidence INTEGER NOT NULL,
    ts       TEXT NOT NULL,
    size     INTEGER NOT NULL,
    payload  BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS frames_drop ON frames (evidence, id);
"""


class SnapshotOutboxError(RuntimeError):
    """The snapshot outbox cannot be opened or written."""


@dataclass(frozen=True)
class QueuedFrame:
    """A frame waiting in the outbox (``payload`` loaded only when it is sent)."""

    id: int
    seq: int
    event_id: str
    phase: str
    evidence: bool
    size: int


class SnapshotOutbox:
    """Durable, bounded, thread-safe queue of encoded snapshot payloads."""

    def __init__(self, path: Path, *, max_bytes: int, max_frames: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.max_frames = max_frames
        #: (evidence, seq, event_id) of the frames dropped for budget, newest last.
        self.recent_drops: deque[tuple[bool, int, str]] = deque(maxlen=1000)
        self._lock = threading.Lock()
        try:
            # NORMAL: a power cut may lose the last routine frames, never an alarm event
            self._db = open_store(self.path, _SCHEMA, synchronous="NORMAL")
            for key, value in (("next_seq", 1), ("dropped_routine", 0),
                               ("dropped_evidence", 0)):
                self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                                 (key, value))
        except (OSError, sqlite3.Error) as exc:
            raise SnapshotOutboxError(f"cannot open snapshot outbox {self.path}: {exc}") from exc

    def add(self, *, event_id: str, phase: wire.SnapshotPhase, evidence: bool, jpeg: bytes,
            ts: Any, camera: str, width: int, height: int) -> wire.SnapshotMeta:
        """Encode and store one frame, dropping others to stay within budget."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    (seq,) = self._db.execute(
                        "SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
                    meta = wire.SnapshotMeta(event_id=event_id, seq=seq, ts=ts, phase=phase,
                                             camera=camera, width=width, height=height)
                    payload = wire.encode_snapshot(meta, jpeg)
                    self._db.execute(
                        "INSERT INTO frames (seq, event_id, phase, evidence, ts, size, payload) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (seq, event_id, phase.value, int(evidence), meta.ts.isoformat(),
                         len(payload), payload))
                    self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'",
                                     (seq + 1,))
                    dropped = self._enforce_budget()
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise SnapshotOutboxError(f"cannot write {self.path}: {exc}") from exc
        self.recent_drops.extend(dropped)
        for evidence_dropped, frame_seq, frame_event in dropped:
            logger.warning("snapshot outbox over budget: dropped %s frame seq %d of event %s",
                           "EVIDENCE" if evidence_dropped else "routine", frame_seq,
                           frame_event)
        return meta

    def _enforce_budget(self) -> list[tuple[bool, int, str]]:
        dropped: list[tuple[bool, int, str]] = []
        while True:
            count, total = self._db.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM frames").fetchone()
            if count <= self.max_frames and total <= self.max_bytes:
                return dropped
            row = self._db.execute("SELECT id, seq, event_id, evidence FROM frames "
                                   "ORDER BY evidence, id LIMIT 1").fetchone()
            frame_id, seq, event_id, evidence = row
            self._db.execute("DELETE FROM frames WHERE id = ?", (frame_id,))
            key = "dropped_evidence" if evidence else "dropped_routine"
            self._db.execute("UPDATE meta SET value = value + 1 WHERE key = ?", (key,))
            dropped.append((bool(evidence), seq, event_id))

    def queued(self, limit: int = 200, exclude: set[int] | frozenset[int] = frozenset()
               ) -> list[QueuedFrame]:
        """Frames in sending order: evidence first, then oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seq, event_id, phase, evidence, size FROM frames "
                "ORDER BY evidence DESC, id LIMIT ?", (limit + len(exclude),)).fetchall()
        return [QueuedFrame(r[0], r[1], r[2], r[3], bool(r[4]), r[5])
                for r in rows if r[0] not in exclude][:limit]

    def payload(self, frame_id: int) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT payload FROM frames WHERE id = ?",
                                   (frame_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def delete(self, frame_id: int) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM frames WHERE id = ?",
                                    (frame_id,)).rowcount > 0

    def stats(self) -> dict[str, int]:
        """``frames``, ``bytes``, ``dropped_routine``, ``dropped_evidence``, ``next_seq``."""
        with self._lock:
            count, total = self._db.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM frames").fetchone()
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        return {"frames": int(count), "bytes": int(total),
                "dropped_routine": int(meta["dropped_routine"]),
                "dropped_evidence": int(meta["dropped_evidence"]),
                "next_seq": int(meta["next_seq"])}

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Publisher(Protocol):
    """What the sender needs of :class:`~edge_agent.link.MqttLink`."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: bytes, *, qos: int = 1,
                retain: bool = False) -> Any: ...


class SnapshotSender:
    """Publishes queued frames whose event central has stored; deletes them on PUBACK."""

    def __init__(self, outbox: SnapshotOutbox, link: Publisher, topics: wire.Topics, device_id: str,
                 event_pending: Callable[[str], bool], clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.outbox = outbox
        self.link = link
        self.topics = topics
        self.device_id = device_id
        self.event_pending = event_pending
        self.clock = clock
        self.sent = 0
        self._inflight: dict[int, tuple[Any, float]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"snapshots-{self.device_id}")
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.pump()
            except (SnapshotOutboxError, sqlite3.Error, RuntimeError, ValueError):
                logger.exception("%s: snapshot sender pass failed", self.device_id)
            self._wake.wait(0.05 if self._inflight else 0.5)
            self._wake.clear()

    def pump(self) -> int:
        """One pass: reap PUBACKs, publish what is due. Returns frames published."""
        now = self.clock()
        for frame_id, (info, sent_at) in list(self._inflight.items()):
            if info.is_published():
                self.outbox.delete(frame_id)
                del self._inflight[frame_id]
                self.sent += 1
            elif self.link.connected and now - sent_at > INFLIGHT_TIMEOUT_S:
                del self._inflight[frame_id]  # sent again below; central deduplicates
        if not self.link.connected:
            return 0
        room = MAX_INFLIGHT - len(self._inflight)
        published = 0
        if room <= 0:
            return 0
        pending_events: dict[str, bool] = {}
        for frame in self.outbox.queued(limit=200, exclude=set(self._inflight)):
            if published >= room:
                break
            if frame.event_id not in pending_events:
                pending_events[frame.event_id] = self.event_pending(frame.event_id)
            if pending_events[frame.event_id]:
                continue  # event first: wait for central's receipt for it
            payload = self.outbox.payload(frame.id)
            if payload is None:
                continue  # dropped for budget meanwhile
            info = self.link.publish(self.topics.snapshot(self.device_id, frame.event_id),
                                     payload, qos=1)
            if info is None:
                break
            self._inflight[frame.id] = (info, now)
            published += 1
        return published
