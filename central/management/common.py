"""What the management modules share: the error type, JSON columns, the hazard timeline."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from central.db import iso, query_one

logger = logging.getLogger(__name__)


class MgmtError(ValueError):
    """A refused request; the message names the cause and the fix. ``status``: HTTP code."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def row_out(row: dict[str, Any] | None, *json_columns: str) -> dict[str, Any] | None:
    """A row as a dict with its JSON columns parsed (None stays None)."""
    if row is None:
        return None
    out = dict(row)
    for column in json_columns:
        if isinstance(out.get(column), str):
            out[column] = json.loads(out[column])
    return out


def need(db: Database, sql: str, args: list[Any], what: str) -> dict[str, Any]:
    """The one row ``sql`` finds, or a 404 :class:`MgmtError` naming ``what``."""
    row = query_one(db, sql, args)
    if row is None:
        raise MgmtError(f"{what} does not exist", 404)
    return dict(row)


def venue_station(db: Database, venue_id: str) -> str:
    return str(need(db, "SELECT station_id FROM venues WHERE id = ?", [venue_id],
                    f"venue {venue_id}")["station_id"])


def hazard_event(db: Database, hazard_id: int, at: datetime, actor: str, action: str,
                 detail: dict[str, Any] | None = None) -> None:
    """One step of a hazard's timeline (who, when, what)."""
    db.execute("INSERT INTO hazard_events (hazard_id, at, actor, action, detail) "
               "VALUES (?, ?, ?, ?, ?)", [hazard_id, iso(at), actor, action,
                                           dumps(detail or {})])
