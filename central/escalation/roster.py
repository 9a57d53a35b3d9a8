"""The duty roster: shifts per station with the officers on duty and the leader on call.

"Who is on duty" is answered for any moment: the shifts whose ``[starts_at, ends_at)``
holds it. Every function takes the database first (writer or reader thread).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from central.db import iso, query_one, write_tx

logger = logging.getLogger(__name__)

Duty = Literal["officer", "leader"]


class RosterError(ValueError):
    """A shift that cannot be stored (unknown station or user, end before start)."""


def add_shift(db: Database, *, station_id: str, username: str, duty: Duty, starts_at: datetime,
              ends_at: datetime, actor: str, now: datetime) -> dict[str, Any]:
    if ends_at <= starts_at:
        raise RosterError("a shift must end after it starts")
    with write_tx(db):
        if query_one(db, "SELECT 1 FROM stations WHERE id = ?", [station_id]) is None:
            raise RosterError(f"no station {station_id!r}: see `alarmlink central registry "
                              "list`")
        user = query_one(db, "SELECT username, disabled_at FROM users WHERE username = ?",
                         [username])
        if user is None or user["disabled_at"] is not None:
            raise RosterError(f"no active user {username!r}: add them with `alarmlink central "
                              "user add`")
        cur = db.execute(
            "INSERT INTO duty_shifts (station_id, username, duty, starts_at, ends_at, "
            "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [station_id, user["username"], duty, iso(starts_at), iso(ends_at), iso(now), actor])
        shift_id = int(cur.lastrowid or 0)
    logger.info("roster: %s on %s duty at %s from %s to %s (by %s)", username, duty,
                station_id, iso(starts_at), iso(ends_at), actor)
    shift = get_shift(db, shift_id)
    assert shift is not None
    return shift


def remove_shift(db: Database, shift_id: int) -> dict[str, Any] | None:
    with write_tx(db):
        shift = get_shift(db, shift_id)
        if shift is not None:
            db.execute("DELETE FROM duty_shifts WHERE id = ?", [shift_id])
    return shift


def get_shift(db: Database, shift_id: int) -> dict[str, Any] | None:
    return query_one(db, "SELECT * FROM duty_shifts WHERE id = ?", [shift_id])


def list_shifts(db: Database, station_id: str | None = None, *,
                stations: list[str] | None = None, limit: int = 500) -> list[dict[str, Any]]:
    where, params = [], []
    if station_id is not None:
        where.append("station_id = ?")
        params.append(station_id)
    if stations is not None:
        where.append(f"station_id IN ({', '.join('?' for _ in stations)})")
        params.extend(stations)
    sql = "SELECT * FROM duty_shifts" + (f" WHERE {' AND '.join(where)}" if where else "")
    return list(db.query(sql + " ORDER BY starts_at DESC, id DESC LIMIT ?", [*params, limit]))


def on_duty(db: Database, station_id: str, at: datetime) -> list[dict[str, Any]]:
    """The shifts in force at ``at`` with each user's mobile (disabled users left out)."""
    moment = iso(at)
    return list(db.query(
        "SELECT s.id AS shift_id, s.username, s.duty, s.starts_at, s.ends_at, u.mobile, "
        "u.display_name, u.role FROM duty_shifts s JOIN users u ON u.username = s.username "
        "WHERE s.station_id = ? AND s.starts_at <= ? AND s.ends_at > ? "
        "AND u.disabled_at IS NULL ORDER BY s.duty DESC, s.username",
        [station_id, moment, moment]))
