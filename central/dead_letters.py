"""Dead letters: every message ingest refused, with the reason and the raw bytes.

The one place that stores and lists them: ingest stores, the API
(``GET /api/dead-letters``) and the CLI (``alarmlink central dead-letters``) list.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from alarmlink.wire import ULID_PATTERN
from central.db import DEAD_LETTER_MAX_BYTES, iso, write_tx

logger = logging.getLogger(__name__)

#: Characters of the payload shown as text (the whole stored payload is in ``payload_b64``).
PREVIEW_BYTES = 512


def store(db: Database, topic: str, payload: bytes, reason: str, device_id: str | None,
          now: datetime) -> None:
    """Keep a refused message: the first :data:`DEAD_LETTER_MAX_BYTES` and its real size."""
    with write_tx(db):
        db.execute(
            "INSERT INTO dead_letters (received_at, topic, device_id, payload, payload_size, "
            "reason) VALUES (?, ?, ?, ?, ?, ?)",
            [iso(now), topic[:1024], device_id, bytes(payload[:DEAD_LETTER_MAX_BYTES]),
             len(payload), reason[:2000]])


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
