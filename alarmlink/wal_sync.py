"""Making SQLite commits made without an fsync durable afterwards, with one fsync.

A commit with ``PRAGMA synchronous=NORMAL`` in WAL mode is written to the ``-wal`` file
but not synced: a crashed process keeps it, a power cut may undo it. The WAL is written
in order, so one ``fsync`` of it makes every earlier commit durable, as a
``synchronous=FULL`` commit would have. Central pushes an alarm to the consoles, and an
agent publishes it, between the commit and this fsync; neither acknowledges anything
(a PUBACK, a receipt) before it.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_wal(database: str | Path) -> None:
    """fsync ``database``'s write-ahead log. Nothing to do for a database without one
    (not in WAL mode: its commits synced the file itself). Raises ``OSError`` when the
    disk refuses: the commits are then not known to be durable."""
    try:
        fd = os.open(f"{database}-wal", os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
