"""The audit trail: an append-only, hash-chained log of who did what, allowed or denied.

Each row's ``hash`` is SHA-256 over the previous row's hash and this row's fields
(canonical JSON), so changing, inserting or deleting a row in the middle breaks
the chain from that row on; :func:`verify` names the first row that does not fit.
Rows are only ever appended on the writer thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from alarmlink.wire import utcnow
from central.db import iso, query_one, write_tx

logger = logging.getLogger(__name__)

Result = Literal["allowed", "denied"]
GENESIS = "0" * 64
_FIELDS = ("at", "username", "role", "source", "action", "object", "result", "detail")


@dataclass(frozen=True)
class Entry:
    """One audited act. ``object`` names what was acted on, e.g. ``incident:12``."""

    username: str
    role: str
    source: str
    action: str
    object: str
    result: Result
    detail: dict[str, Any] | None = None


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The chain hash of ``row`` (its :data:`_FIELDS`) after ``prev_hash``."""
    body = json.dumps([prev_hash, *(row[f] for f in _FIELDS)], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(db: Database, entry: Entry, *, at: datetime | None = None) -> int:
    """Append ``entry`` to the chain; returns its row id. Call on the writer thread."""
    with write_tx(db):
        last = query_one(db, "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        prev = GENESIS if last is None else str(last["hash"])
        row = {"at": iso(at or utcnow()), "username": entry.username, "role": entry.role,
               "source": entry.source, "action": entry.action, "object": entry.object,
               "result": entry.result,
               "detail": json.dumps(entry.detail or {}, ensure_ascii=False, sort_keys=True)}
        cur = db.execute(
            "INSERT INTO audit_log (at, username, role, source, action, object, result, "
            "detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*(row[f] for f in _FIELDS), prev, row_hash(prev, row)])
    if entry.result == "denied":
        logger.warning("denied: %s (%s) %s on %s from %s", entry.username, entry.role,
                       entry.action, entry.object, entry.source)
    return int(cur.lastrowid or 0)
