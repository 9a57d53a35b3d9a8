"""Dead letters: every message ingest refused, with the reason and the raw bytes.

The one place that stores and lists them: ingest stores, the API
(``GET /api/dead-letters``) and the CLI (``alarmlink central dead-letters``) list.

Limits (``[limits]``, central/limits_config.py), so a device sending garbage cannot
fill the disk or slow ingest (a flood of malformed JSON once grew the database from 1 to
91 MiB):

* a per-device budget (token bucket) of dead letters *stored*: beyond it they are only
  counted, and the device raises one flood trouble (central/floods.py);
* at most ``dead_letters_per_device`` kept per device: storing one more deletes the
  oldest;
* :func:`prune` deletes those older than ``dead_letter_max_age_days`` (run every
  ``dead_letter_prune_interval_s`` on the writer).

Nothing is lost without a count: ``dead_letter_counts`` keeps, per device (``(unknown)``
for messages whose device is not known), how many were received, how many were not
stored (over budget) and how many were deleted (cap or age); :func:`counts` lists them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from alarmlink.wire import ULID_PATTERN
from central.db import DEAD_LETTER_MAX_BYTES, Writer, iso, write_tx
from central.ingest_queue import Budgets
from central.limits_config import LimitsConfig

logger = logging.getLogger(__name__)

#: Characters of the payload shown as text (the whole stored payload is in ``payload_b64``).
PREVIEW_BYTES = 512


#: ``dead_letter_counts.device_key`` of dead letters whose device is not known.
UNKNOWN = "(unknown)"


class Policy:
    """The limits :func:`store` applies, with the budgets' state. Each owner (central's
    :class:`~central.ingest.Ingestor`, built by the service from ``[limits]``) holds its own
    and passes it to :func:`store`."""

    def __init__(self, limits: LimitsConfig | None = None,
                 on_flood: Callable[[str, str, int], None] | None = None) -> None:
        limits = limits or LimitsConfig()
        self.per_device = limits.dead_letters_per_device
        self.budget = Budgets(limits.dead_letter_rate_per_s, limits.dead_letter_burst,
                              what="refused messages (dead letters)", on_flood=on_flood)


def store(db: Database, topic: str, payload: bytes, reason: str, device_id: str | None,
          now: datetime, *, policy: Policy) -> bool:
    """Keep a refused message: the first :data:`DEAD_LETTER_MAX_BYTES` and its real size.

    Within the device's budget and ``policy``'s cap (see the module docstring); always
    counted. Returns whether it was stored.
    """
    key = device_id or UNKNOWN
    stored = policy.budget.allow(key)
    with write_tx(db):
        db.execute(
            "INSERT INTO dead_letter_counts (device_key, received, not_stored, last_at) "
            "VALUES (?, 1, ?, ?) ON CONFLICT (device_key) DO UPDATE SET "
            "received = received + 1, not_stored = not_stored + excluded.not_stored, "
            "last_at = excluded.last_at", [key, 0 if stored else 1, iso(now)])
        if not stored:
            return False
        db.execute(
            "INSERT INTO dead_letters (received_at, topic, device_id, payload, payload_size, "
            "reason) VALUES (?, ?, ?, ?, ?, ?)",
            [iso(now), _text(topic[:1024]), device_id,
             bytes(payload[:DEAD_LETTER_MAX_BYTES]), len(payload), _text(reason[:2000])])
        deleted = db.execute(
            "DELETE FROM dead_letters WHERE device_id IS ? AND id <= (SELECT id FROM "
            "dead_letters WHERE device_id IS ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            [device_id, device_id, policy.per_device]).rowcount
        if deleted > 0:
            db.execute("UPDATE dead_letter_counts SET deleted = deleted + ? "
                       "WHERE device_key = ?", [deleted, key])
    return True


def _text(value: str) -> str:
    """A NUL written as ``\\x00``: PostgreSQL's text cannot hold one (the raw bytes are
    kept as they came in ``payload``)."""
    return value.replace("\x00", "\\x00")


def prune(db: Database, older_than: datetime) -> int:
    """Delete the dead letters received before ``older_than`` (counted per device)."""
    cutoff = iso(older_than)
    with write_tx(db):
        per_device = list(db.query(
            "SELECT device_id, count(*) AS n FROM dead_letters WHERE received_at < ? "
            "GROUP BY device_id", [cutoff]))
        for row in per_device:
            db.execute("INSERT INTO dead_letter_counts (device_key, deleted) VALUES (?, ?) "
                       "ON CONFLICT (device_key) DO UPDATE SET deleted = deleted + "
                       "excluded.deleted", [row["device_id"] or UNKNOWN, row["n"]])
        deleted = db.execute("DELETE FROM dead_letters WHERE received_at < ?",
                             [cutoff]).rowcount
    if deleted:
        logger.info("dead letters: %d older than %s deleted", deleted, cutoff)
    return int(deleted)


def counts(db: Database) -> list[dict[str, Any]]:
    """Per device: received, not_stored (over budget), deleted (cap or age), last_at;
    most received first."""
    return [dict(row) for row in db.query(
        "SELECT device_key AS device, received, not_stored, deleted, last_at "
        "FROM dead_letter_counts ORDER BY received DESC, device_key")]


async def retention_loop(writer: Writer, limits: LimitsConfig,
                         clock: Callable[[], datetime]) -> None:
    """:func:`prune` now and every ``dead_letter_prune_interval_s``, on the writer."""
    while True:
        try:
            await writer.run(prune, clock() - timedelta(days=limits.dead_letter_max_age_days))
        except sqlite3.Error:
            logger.exception("dead-letter retention failed; retrying in %g s",
                             limits.dead_letter_prune_interval_s)
        await asyncio.sleep(limits.dead_letter_prune_interval_s)


def list_dead_letters(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    """The latest ``limit`` dead letters, newest first, each as :func:`view` shows it."""
    return [view(row) for row in db.query(
        "SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?", [limit])]


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row with a readable preview and the payload in base64."""
    payload: bytes = row["payload"]
    return {"id": row["id"], "received_at": row["received_at"], "topic": row["topic"],
            "device_id": row["device_id"], "payload_size": row["payload_size"],
            "payload_preview": payload[:PREVIEW_BYTES].decode("utf-8", errors="replace"),
            "payload_b64": base64.b64encode(payload).decode(), "reason": row["reason"]}


def event_id_of(payload: bytes) -> str | None:
    """The ``event_id`` of a payload that did not pass, if it has a well-formed one."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get("event_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and re.fullmatch(ULID_PATTERN, value) else None
