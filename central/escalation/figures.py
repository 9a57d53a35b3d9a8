"""Figures: time from the first alarm event to the first human acknowledgement, per
station and per channel (console, sms, call); time to the 119 notification; and one
incident's notifications with every attempt."""

from __future__ import annotations

import json
import logging
import statistics
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from central.db import iso, parse_iso
from central.escalation.services import countdown_s

logger = logging.getLogger(__name__)


def _channel(detail: str) -> str:
    note = json.loads(detail or "{}").get("note", "")
    return note.removeprefix("via ").split(" ")[0] if note.startswith("via ") else "console"


def _summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "median_s": None, "max_s": None}
    return {"count": len(values), "median_s": round(statistics.median(values), 1),
            "max_s": round(max(values), 1)}


def figures(db: Database, stations: list[str] | None,
            since: datetime | None) -> dict[str, Any]:
    where = "WHERE i.category = 'alarm'"
    params: list[Any] = []
    if stations is not None:
        where += f" AND i.station_id IN ({', '.join('?' for _ in stations)})"
        params += stations
    if since is not None:
        where += " AND i.opened_at >= ?"
        params.append(iso(since))
    rows = db.query(
        "SELECT i.id, i.station_id, (SELECT MIN(ts) FROM events e WHERE e.incident_id = i.id)"
        " AS first_ts, i.opened_at, "
        "(SELECT at || '|' || detail FROM incident_log l WHERE l.incident_id = i.id AND "
        " l.action IN ('acknowledge', 'dispatch') ORDER BY l.id LIMIT 1) AS ack, "
        "(SELECT MIN(at) FROM incident_log l WHERE l.incident_id = i.id AND "
        " l.action = 'notify_119') AS n119 FROM incidents i " + where, params)
    ack: dict[str, dict[str, list[float]]] = {}
    to119: dict[str, list[float]] = {}
    for row in rows:
        first = parse_iso(row["first_ts"] or row["opened_at"])
        if row["ack"]:
            at, detail = row["ack"].split("|", 1)
            per = ack.setdefault(row["station_id"], {})
            per.setdefault(_channel(detail), []).append((parse_iso(at) - first).total_seconds())
        if row["n119"]:
            to119.setdefault(row["station_id"], []).append(
                (parse_iso(row["n119"]) - first).total_seconds())
    return {"time_to_ack": {s: {c: _summary(v) for c, v in per.items()}
                            for s, per in ack.items()},
            "time_to_119": {s: _summary(v) for s, v in to119.items()}}


def incident_notifications(db: Database, incident_id: int, target_s: float,
                           now: datetime) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM notifications WHERE incident_id = ? ORDER BY id",
                         [incident_id]))
    for row in rows:
        row["attempts_log"] = list(db.query(
            "SELECT at, result, detail FROM notification_attempts WHERE notification_id = ? "
            "ORDER BY id", [row["id"]]))
    esc = db.query("SELECT * FROM escalations WHERE incident_id = ?", [incident_id])
    return {"escalation": next(iter(esc), None), "notifications": rows,
            "countdown_s": countdown_s(db, incident_id, target_s, now), "target_s": target_s}
