"""What snapshots and recordings share: a content-addressed file store and the
retention loop that prunes it.

Both keep each file once under its SHA-256 (``{root}/ab/…/<sha256>.<suffix>``), so a
hash on the timeline names exactly one file, and prune rows past retention on the
writer thread (:func:`retention_loop`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from alarmlink import wire
from central.db import Writer
from central.snapshot_config import SnapshotsConfig

logger = logging.getLogger(__name__)


class ContentFiles:
    """A directory of files named by their SHA-256, fanned out by its first hex digits.

    ``levels``: how many two-digit directory levels (``ab/`` or ``ab/cd/``);
    ``suffix``: the files' extension, e.g. ``.jpg``.
    """

    def __init__(self, root: Path, *, suffix: str, levels: int = 1) -> None:
        self.root = Path(root)
        self.suffix = suffix
        self.levels = levels

    def path(self, sha256: str) -> Path:
        """Where the file with this hash lives; ValueError for anything but a hex digest."""
        if not wire.is_sha256(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256[:80]!r}")
        parts = [sha256[2 * i:2 * i + 2] for i in range(self.levels)]
        return self.root.joinpath(*parts, f"{sha256}{self.suffix}")

    def delete(self, sha256: str) -> bool:
        """Remove the file; False if it was not there."""
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True


class Prune(Protocol):
    def __call__(self, db: Any, files: Any, now: datetime, *, evidence_days: float,
                 routine_days: float) -> object: ...


async def retention_loop(writer: Writer, prune: Prune, files: ContentFiles,
                         config: SnapshotsConfig, clock: Callable[[], datetime],
                         what: str) -> None:
    """Run ``prune`` now and every ``prune_interval_s``, on the writer (off the loop)."""
    while True:
        try:
            await writer.run(prune, files, clock(), evidence_days=config.evidence_days,
                             routine_days=config.routine_days)
        except (sqlite3.Error, OSError):
            logger.exception("%s retention failed; retrying in %s s", what,
                             config.prune_interval_s)
        await asyncio.sleep(config.prune_interval_s)
