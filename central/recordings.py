"""Recordings of live sessions at central: chunks in, a verified file out, on the
incident's timeline and in the audit chain, served, pruned with the incident's evidence.

The venue agent records each live session (video, venue microphone and the officer's
voice) and uploads the file after the session in chunks on ``dev/{id}/rtc/rec/{session}``
(:mod:`alarmlink.wire.recording`). On the writer thread, each chunk is:

- checked against the wire contract, and bound to a session central itself relayed:
  the incident's timeline must hold the ``av_open`` of that session with that device
  (an agent cannot attach a file to another incident, or invent a session);
- stored once in ``av_recording_chunks`` (``(session_id, seq)`` is the key: a resent
  chunk is ignored); the ``av_recordings`` row counts what arrived (``partial``);
- when the last missing chunk arrives, the chunks are streamed in order through
  SHA-256 into ``{data_dir}/recordings/ab/<sha256>.webm`` (a temporary name, fsynced,
  renamed). Equal to the agent's hash: the row becomes ``complete``, the chunks are
  deleted, the timeline gets ``av_recording`` (who opened the session, whether they
  spoke, the hash) and the audit chain ``av.recording``; the agent is told
  ``rec_stored`` and deletes its copy. Not equal: ``rejected`` with the reason, a dead
  letter, and ``rec_rejected`` to the agent (which keeps its copy).

Only ``complete`` recordings are on the timeline or served: a partial upload is listed as
partial with its count of chunks, never played. Retention follows the snapshots'
rules (:mod:`central.snapshots`): evidence of alarm incidents ``evidence_days`` after the
incident was resolved, everything else ``routine_days`` after it arrived.
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
from central import audit, evidence_files, incidents
from central.db import Writer, iso, query_one, write_tx
from central.evidence_files import ContentFiles
from central.snapshot_config import SnapshotsConfig

logger = logging.getLogger(__name__)

_COLUMNS = ("session_id, device_id, incident_id, opened_by, size, sha256, media_type, "
            "started_at, ended_at, spoke_s, chunks, received, state, first_at, completed_at, "
            "reason")


class RecordingRejected(ValueError):
    """A chunk that is not stored; ``str()`` is the dead-letter reason."""


class RecordingFiles(ContentFiles):
    """The content-addressed recordings directory (``ab/<sha256>.webm``)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, suffix=".webm", levels=1)


@dataclass(frozen=True)
class ChunkResult:
    """What a chunk did: ``state`` after it, and the signal owed to the device."""

    session_id: str
    state: str
    duplicate: bool
    reply: wire.RtcKind | None = None
    reason: str = ""
    incident_id: int | None = None


def _opened(db: Database, chunk: wire.RecChunk, device_id: str) -> dict[str, Any] | None:
    return query_one(
        db, "SELECT actor, at FROM incident_log WHERE incident_id = ? AND action = 'av_open' "
            "AND json_extract(detail, '$.session_id') = ? AND "
            "json_extract(detail, '$.device_id') = ? ORDER BY id LIMIT 1",
        [chunk.incident_id, chunk.session_id, device_id])


def ingest_chunk(db: Database, files: RecordingFiles, device_id: str, session_id: str,
                 payload: bytes, now: datetime) -> ChunkResult:
    """Check and store one chunk; assemble and verify the file when it was the last one.
    Raises :class:`RecordingRejected` with the reason."""
    try:
        chunk, data = wire.decode_rec_chunk(payload, session_id)
    except wire.ContractError as exc:
        raise RecordingRejected(str(exc)) from None
    row = query_one(db, f"SELECT {_COLUMNS} FROM av_recordings WHERE session_id = ?",
                    [session_id])
    if row is not None and row["state"] != "partial":
        last = chunk.seq == chunk.chunks - 1
        reply = None
        if last:   # the agent resent the whole file: tell it again
            reply = (wire.RtcKind.REC_STORED if row["state"] == "complete"
                     else wire.RtcKind.REC_REJECTED)
        return ChunkResult(session_id, row["state"], True, reply, row["reason"],
                           row["incident_id"])
    if row is not None:
        if row["device_id"] != device_id:
            raise RecordingRejected(f"session {session_id} is being uploaded by "
                                    f"{row['device_id']!r}, not {device_id!r}")
        if (row["size"], row["sha256"], row["incident_id"]) != (
                chunk.size, chunk.sha256, chunk.incident_id):
            raise RecordingRejected(f"chunk {chunk.seq} of session {session_id} names another "
                                    "file (size, sha256 or incident) than its first chunks")
    opened = _opened(db, chunk, device_id)
    if opened is None:
        raise RecordingRejected(
            f"no live session {session_id} of incident {chunk.incident_id} with "
            f"{device_id!r} was opened at central: the recording is not stored")
    with write_tx(db):
        if row is None:
            db.execute(
                f"INSERT INTO av_recordings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, 0, 'partial', ?, NULL, '')",
                [session_id, device_id, chunk.incident_id, opened["actor"], chunk.size,
                 chunk.sha256, chunk.media_type, iso(chunk.started), iso(chunk.ended),
                 chunk.spoke_s, chunk.chunks, iso(now)])
        cursor = db.execute("INSERT INTO av_recording_chunks (session_id, seq, data) "
                            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                            [session_id, chunk.seq, data])
        if cursor.rowcount == 0:
            return ChunkResult(session_id, "partial", True, incident_id=chunk.incident_id)
        db.execute("UPDATE av_recordings SET received = received + 1 WHERE session_id = ?",
                   [session_id])
        received = int(query_one(db, "SELECT received FROM av_recordings WHERE session_id "
                                     "= ?", [session_id])["received"])  # type: ignore[index]
        if received < chunk.chunks:
            return ChunkResult(session_id, "partial", False, incident_id=chunk.incident_id)
        return _complete(db, files, device_id, chunk, str(opened["actor"]), now)


def _assemble(db: Database, files: RecordingFiles, session_id: str, expected: str) -> str:
    """Stream the chunks in order into the store; return their SHA-256. The file is kept
    (under its hash) only when the hash is ``expected``."""
    files.root.mkdir(parents=True, exist_ok=True)
    tmp = files.root / f".{session_id}.tmp{os.getpid()}"
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        for (data,) in db.conn.execute("SELECT data FROM av_recording_chunks WHERE "
                                       "session_id = ? ORDER BY seq", [session_id]):
            digest.update(data)
            out.write(data)
        out.flush()
        os.fsync(out.fileno())
    actual = digest.hexdigest()
    if actual != expected:
        tmp.unlink(missing_ok=True)
        return actual
    path = files.path(actual)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, path)
    return actual


def _complete(db: Database, files: RecordingFiles, device_id: str, chunk: wire.RecChunk,
              opened_by: str, now: datetime) -> ChunkResult:
    session_id = chunk.session_id
    actual = _assemble(db, files, session_id, chunk.sha256)
    db.execute("DELETE FROM av_recording_chunks WHERE session_id = ?", [session_id])
    if actual != chunk.sha256:
        reason = (f"the {chunk.size} bytes received hash to {actual}, not to the "
                  f"{chunk.sha256} the device sent")
        db.execute("UPDATE av_recordings SET state = 'rejected', reason = ?, completed_at = ? "
                   "WHERE session_id = ?", [reason, iso(now), session_id])
        logger.warning("recording of session %s from %s rejected: %s", session_id, device_id,
                       reason)
        return ChunkResult(session_id, "rejected", False, wire.RtcKind.REC_REJECTED, reason,
                           chunk.incident_id)
    db.execute("UPDATE av_recordings SET state = 'complete', completed_at = ? WHERE "
               "session_id = ?", [iso(now), session_id])
    detail = {"session_id": session_id, "device_id": device_id, "sha256": actual,
              "size": chunk.size, "media_type": chunk.media_type,
              "started_at": iso(chunk.started), "ended_at": iso(chunk.ended),
              "duration_s": round((chunk.ended - chunk.started).total_seconds(), 1),
              "watched_by": opened_by, "spoke_by": opened_by if chunk.spoke_s > 0 else None,
              "spoke_s": chunk.spoke_s, "url": url(session_id)}
    incidents.log_action(db, chunk.incident_id, iso(now), opened_by, "av_recording", detail)
    # A change the consoles should see (the timeline and the player): bump the version.
    db.execute("UPDATE incidents SET updated_at = ?, version = version + 1 WHERE id = ?",
               [iso(now), chunk.incident_id])
    audit.append(db, audit.Entry(device_id, "device", "mqtt", "av.recording",
                                 f"incident:{chunk.incident_id}", "allowed",
                                 {k: detail[k] for k in ("session_id", "sha256", "size",
                                                         "watched_by", "spoke_by")}), at=now)
    logger.info("recording of session %s (incident %s, opened by %s) stored: %d bytes, "
                "sha256 %s", session_id, chunk.incident_id, opened_by, chunk.size, actual)
    return ChunkResult(session_id, "complete", False, wire.RtcKind.REC_STORED,
                       incident_id=chunk.incident_id)


# ------------------------------------------------------------------ queries

def url(session_id: str) -> str:
    return f"/api/av/recordings/{session_id}"


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "url": url(row["session_id"]) if row["state"] == "complete" else None}


def incident_recordings(db: Database, incident_id: int) -> list[dict[str, Any]]:
    """The incident's recordings, complete or not (a partial one has no ``url``)."""
    return [_view(r) for r in db.query(
        f"SELECT {_COLUMNS} FROM av_recordings WHERE incident_id = ? ORDER BY started_at",
        [incident_id])]


def find_recording(db: Database, session_id: str) -> dict[str, Any] | None:
    row = query_one(db, f"SELECT r.{_COLUMNS.replace(', ', ', r.')}, i.station_id, "
                        "i.venue_id FROM av_recordings r JOIN incidents i ON "
                        "i.id = r.incident_id WHERE r.session_id = ?", [session_id])
    return None if row is None else _view(row)


# ---------------------------------------------------------------- retention

def prune(db: Database, files: RecordingFiles, now: datetime, *, evidence_days: float,
          routine_days: float) -> int:
    """Delete recordings past retention (the snapshots' rules); returns how many."""
    evidence_cutoff = iso(now - timedelta(days=evidence_days))
    routine_cutoff = iso(now - timedelta(days=routine_days))
    with write_tx(db):
        doomed = list(db.query(
            "SELECT r.session_id, r.sha256, r.state FROM av_recordings r JOIN incidents i "
            "ON i.id = r.incident_id WHERE (i.category = 'alarm' AND i.resolved_at IS NOT "
            "NULL AND i.resolved_at < ?) OR (i.category != 'alarm' AND r.first_at < ?)",
            [evidence_cutoff, routine_cutoff]))
        for row in doomed:
            db.execute("DELETE FROM av_recording_chunks WHERE session_id = ?",
                       [row["session_id"]])
            db.execute("DELETE FROM av_recordings WHERE session_id = ?", [row["session_id"]])
    for row in doomed:
        if row["state"] == "complete" and query_one(
                db, "SELECT 1 FROM av_recordings WHERE sha256 = ?", [row["sha256"]]) is None:
            files.delete(row["sha256"])
    if doomed:
        logger.info("recording retention: %d recording(s) pruned", len(doomed))
    return len(doomed)


async def retention_loop(writer: Writer, files: RecordingFiles, config: SnapshotsConfig,
                         clock: Callable[[], datetime]) -> None:
    """Prune recordings now and every ``prune_interval_s`` (on the writer, off the loop)."""
    await evidence_files.retention_loop(writer, prune, files, config, clock, "recording")
