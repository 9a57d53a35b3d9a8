"""Snapshots at central: checked, stored as files, indexed, served, pruned.

Files: ``{data_dir}/snapshots/ab/cd/<sha256>.jpg`` -- content-addressed, written
to a temporary name, fsynced and renamed, so a file either exists whole or
not at all. The index is the ``snapshots`` table (event, incident, device,
seq, phase, camera, frame time, arrival, size, width, height, sha256). The
payload is stored as received: the JPEG with its metadata comment segment.

Ingest rules (:func:`ingest_snapshot`), each failure a dead letter with the
reason: at most ``wire.MAX_SNAPSHOT_BYTES``; starts with the JPEG magic bytes
``FF D8 FF`` and ends with ``FF D9``; carries valid metadata whose
``event_id`` is the topic's; the event is already stored (agents send pictures
only after the event's receipt) and belongs to the sending device's venue.
A resent frame (same device, event and seq) is stored once.

Retention (:func:`prune`): frames of alarm incidents are evidence, kept
``evidence_days`` after the incident was resolved (never while it is open);
every other frame (trouble incidents, test events) is routine, kept
``routine_days`` after it arrived. A file is deleted when no index row
refers to it any more.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from alarmlink import wire
from central import evidence_files
from central.db import Writer, iso, query_one, write_tx
from central.evidence_files import ContentFiles
from central.snapshot_config import SnapshotsConfig

logger = logging.getLogger(__name__)

SHA256_HEX = 64


class SnapshotRejected(ValueError):
    """A snapshot that is not stored; ``str()`` is the dead-letter reason."""


class SnapshotFiles(ContentFiles):
    """The content-addressed snapshot directory (``ab/cd/<sha256>.jpg``)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, suffix=".jpg", levels=2)

    def write(self, payload: bytes) -> str:
        """Store ``payload`` (idempotent) and return its sha256."""
        sha256 = hashlib.sha256(payload).hexdigest()
        path = self.path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        return sha256



@dataclass(frozen=True)
class Stored:
    id: int
    incident_id: int | None
    duplicate: bool


def ingest_snapshot(db: Database, files: SnapshotFiles, device_id: str, event_id: str,
                    payload: bytes, now: datetime) -> Stored:
    """Check and store one snapshot. Raises :class:`SnapshotRejected` with the reason."""
    try:
        meta = wire.decode_snapshot(payload)
    except wire.ContractError as exc:
        raise SnapshotRejected(str(exc)) from None
    if meta.event_id != event_id:
        raise SnapshotRejected(f"metadata event_id {meta.event_id} does not match the topic's "
                               f"{event_id}")
    event = query_one(
        db, "SELECT e.venue_id AS event_venue, e.incident_id, d.venue_id AS device_venue "
        "FROM events e, devices d WHERE e.event_id = ? AND d.id = ?", [event_id, device_id])
    if event is None:
        raise SnapshotRejected(f"snapshot for unknown event {event_id}: pictures must follow "
                               "their stored event")
    event_venue, incident_id = event["event_venue"], event["incident_id"]
    device_venue = event["device_venue"]
    if event_venue != device_venue:
        raise SnapshotRejected(f"event {event_id} is from venue {event_venue!r}, not from "
                               f"{device_id!r}'s venue {device_venue!r}")
    existing = query_one(db, "SELECT id FROM snapshots WHERE device_id = ? AND event_id = ? "
                             "AND seq = ?", [device_id, event_id, meta.seq])
    if existing is not None:
        return Stored(int(existing["id"]), incident_id, True)
    sha256 = files.write(payload)  # the file first: an index row never points at nothing
    with write_tx(db):
        cursor = db.execute(
            "INSERT INTO snapshots (device_id, event_id, incident_id, seq, phase, camera, ts, "
            "received_at, size, width, height, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?) ON CONFLICT (device_id, event_id, seq) DO NOTHING",
            [device_id, event_id, incident_id, meta.seq, meta.phase.value, meta.camera,
             iso(meta.ts), iso(now), len(payload), meta.width, meta.height, sha256])
        snapshot_id = int(cursor.lastrowid or 0)
    logger.info("snapshot %s seq %d (%s) of event %s from %s stored: %d bytes", snapshot_id,
                meta.seq, meta.phase.value, event_id, device_id, len(payload))
    return Stored(snapshot_id, incident_id, False)


# ------------------------------------------------------------------ queries

_COLUMNS = ("id, device_id, event_id, incident_id, seq, phase, camera, ts, received_at, size, "
            "width, height, sha256")


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "url": f"/api/snapshots/{row['id']}.jpg"}


def incident_snapshots(db: Database, incident_id: int, *, since_id: int = 0,
                       limit: int = 500) -> list[dict[str, Any]]:
    """The incident's frames in frame-time order (``since_id``: only newer rows)."""
    rows = db.query(f"SELECT {_COLUMNS} FROM snapshots WHERE incident_id = ? AND id > ? "
                    "ORDER BY ts, id LIMIT ?", [incident_id, since_id, limit])
    return [_view(r) for r in rows]


def frame_message(db: Database, snapshot_id: int) -> dict[str, Any] | None:
    """What the live hub pushes for a stored frame of an incident: the index row, its
    ``url`` and the incident's ``station_id`` and ``venue_id`` (for the consoles'
    scope). Never the JPEG itself. None for a frame of no incident."""
    rows = list(db.query(
        f"SELECT {', '.join('s.' + c for c in _COLUMNS.split(', '))}, i.station_id, "
        "i.venue_id FROM snapshots s JOIN incidents i ON i.id = s.incident_id "
        "WHERE s.id = ?", [snapshot_id]))
    return _view(rows[0]) if rows else None


def find_snapshot(db: Database, ref: str) -> dict[str, Any] | None:
    """A frame by index id (digits) or sha256 (64 hex digits)."""
    if ref.isdigit():
        rows = list(db.query(f"SELECT {_COLUMNS} FROM snapshots WHERE id = ?", [int(ref)]))
    elif len(ref) == SHA256_HEX:
        rows = list(db.query(f"SELECT {_COLUMNS} FROM snapshots WHERE sha256 = ? LIMIT 1",
                             [ref.lower()]))
    else:
        return None
    return _view(rows[0]) if rows else None


# ---------------------------------------------------------------- retention

@dataclass(frozen=True)
class PruneResult:
    evidence_rows: int
    routine_rows: int
    files: int


def prune(db: Database, files: SnapshotFiles, now: datetime, *, evidence_days: float,
          routine_days: float) -> PruneResult:
    """Delete frames past retention (see the module doc) and their unreferenced files."""
    evidence_cutoff = iso(now - timedelta(days=evidence_days))
    routine_cutoff = iso(now - timedelta(days=routine_days))
    evidence_sql = ("SELECT s.id, s.sha256 FROM snapshots s JOIN incidents i "
                    "ON i.id = s.incident_id WHERE i.category = 'alarm' AND "
                    "i.resolved_at IS NOT NULL AND i.resolved_at < ?")
    routine_sql = ("SELECT s.id, s.sha256 FROM snapshots s LEFT JOIN incidents i "
                   "ON i.id = s.incident_id WHERE (i.id IS NULL OR i.category != 'alarm') "
                   "AND s.received_at < ?")
    with write_tx(db):
        evidence = list(db.query(evidence_sql, [evidence_cutoff]))
        routine = list(db.query(routine_sql, [routine_cutoff]))
        doomed = evidence + routine
        db.conn.executemany("DELETE FROM snapshots WHERE id = ?", [(r["id"],) for r in doomed])
        shas = {r["sha256"] for r in doomed}
        unused = [sha for sha in shas if query_one(
            db, "SELECT id FROM snapshots WHERE sha256 = ? LIMIT 1", [sha]) is None]
    removed = sum(files.delete(sha) for sha in unused)
    if doomed:
        logger.info("snapshot retention: %d evidence and %d routine frame(s) pruned, "
                    "%d file(s) deleted", len(evidence), len(routine), removed)
    return PruneResult(len(evidence), len(routine), removed)


async def retention_loop(writer: Writer, files: SnapshotFiles, config: SnapshotsConfig,
                         clock: Callable[[], datetime]) -> None:
    """Prune snapshots now and every ``prune_interval_s`` (on the writer, off the loop)."""
    await evidence_files.retention_loop(writer, prune, files, config, clock, "snapshot")
