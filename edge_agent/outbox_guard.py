"""Keeping the outbox's ``seq`` safe from a lost, emptied or damaged outbox file.

``seq`` must never restart: central deduplicates on ``event_id`` but an operator reads
``seq`` gaps and repeats as lost or replayed alarms. Two guards:

* A **sidecar** ``{outbox}.seq`` holds a high-water mark at or above every ``seq`` ever
  allocated. It is written atomically (temporary file, fsync, rename, fsync of the
  folder) whenever ``seq`` reaches it, :data:`SEQ_BLOCK` ahead, so it costs one small
  write per :data:`SEQ_BLOCK` events. A fresh outbox starts at the sidecar's mark: after
  a loss the device's ``seq`` jumps forward (a gap below :data:`SEQ_BLOCK`), never back.
* **Damage** found when the outbox opens (not a database, failed ``quick_check``,
  missing tables, or an empty file where the sidecar says events were numbered) moves
  the file aside as ``{outbox}.damaged-{UTC time}`` (with its ``-wal``/``-shm``), opens
  a fresh one with ``seq`` continuing, and reports why (:class:`Recovery`): the agent
  raises a ``trouble`` event (zone ``outbox``) so the station knows events may have been
  lost, and keeps running.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

#: How far ahead of the next ``seq`` the sidecar's mark is kept.
SEQ_BLOCK = 64
EMPTY = "the outbox file is empty (zero length)"
#: The zone of the trouble an agent raises after moving a damaged outbox aside.
TROUBLE_ZONE = "outbox"


@dataclass(frozen=True)
class Recovery:
    """A damaged or lost outbox was replaced: why, where the old file went, ``seq`` now."""

    reason: str
    moved_to: Path | None
    next_seq: int


def sidecar_path(outbox: Path) -> Path:
    return outbox.with_name(outbox.name + ".seq")


def read_mark(outbox: Path) -> int:
    """The sidecar's high-water mark (0: none, or unreadable: then logged)."""
    path = sidecar_path(outbox)
    try:
        return max(0, int(path.read_text().strip() or 0))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        logger.error("outbox seq sidecar %s unreadable (%s): seq continues from the outbox "
                     "alone", path, exc)
        return 0


def write_mark(outbox: Path, mark: int) -> None:
    """Atomically replace the sidecar with ``mark``. Raises OSError."""
    path = sidecar_path(outbox)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{mark}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def check(path: Path) -> str | None:
    """Why the outbox file at ``path`` cannot be trusted (None: fine, or absent)."""
    if not path.exists():
        return None
    if path.stat().st_size == 0:
        return EMPTY
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            (verdict,) = db.execute("PRAGMA quick_check").fetchone()
            tables = {name for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if verdict != "ok":
                return f"the outbox failed its integrity check: {verdict}"
            if not {"meta", "events"} <= tables:
                return "the outbox has lost its tables"
            row = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
            if row is None:
                return "the outbox has lost its seq counter"
            db.execute("SELECT event_id, seq, payload FROM events").fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return f"the outbox is damaged: {exc}"
    return None


def move_aside(path: Path) -> Path:
    """Rename the outbox (and its -wal/-shm) to ``*.damaged-{UTC time}``; returns the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    return target
