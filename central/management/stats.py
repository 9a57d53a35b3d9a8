"""The dashboard's figures for a period, and the records behind each figure.

Scope: a list of station ids (a station, a county's or a city's stations) or None for all.
Period: ``[since, until)`` as ISO timestamps. "Units inspected" counts routine
inspections (one unit inspected once is one); ``venues_inspected`` the distinct venues.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final

from sqlite_utils import Database

from central.db import iso

logger = logging.getLogger(__name__)

#: figure -> (table, time column, extra condition, columns listed)
FIGURES: Final[dict[str, tuple[str, str, str, str]]] = {
    "units_inspected": ("inspections", "inspected_at", "kind = 'routine'",
                        "id, venue_id, inspected_at, inspectors, created_by"),
    "hazards_found": ("hazards", "found_at", "1 = 1", "id, venue_id, severity, description, "
                      "status, found_at"),
    "notices_issued": ("notices", "issued_at", "1 = 1", "id, number, venue_id, kind, deadline, "
                       "status, issued_at"),
    "rectified_on_time": ("notices", "issued_at", "closed_on_time = 1",
                          "id, number, venue_id, deadline, closed_at"),
    "penalty_cases": ("penalties", "proposed_at", "1 = 1", "id, venue_id, notice_id, status, "
                      "decision, amount_yuan, proposed_at"),
    "fires_investigated": ("fire_investigations", "investigated_at", "1 = 1",
                           "id, venue_id, incident_id, investigated_at, summary"),
}


def _where(stations: list[str] | None, time_column: str, since: datetime,
           until: datetime) -> tuple[str, list[Any]]:
    sql = f" AND {time_column} >= ? AND {time_column} < ?"
    args: list[Any] = [iso(since), iso(until)]
    if stations is not None:
        sql += f" AND station_id IN ({','.join('?' * len(stations))})"
        args += stations
    return sql, args


def records(db: Database, figure: str, stations: list[str] | None, since: datetime,
            until: datetime) -> list[dict[str, Any]]:
    """The records one figure counts (its link)."""
    table, column, condition, columns = FIGURES[figure]
    where, args = _where(stations, column, since, until)
    return [dict(r) for r in db.query(
        f"SELECT {columns} FROM {table} WHERE {condition}{where} ORDER BY id", args)]


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def dashboard(db: Database, stations: list[str] | None, since: datetime,
              until: datetime) -> dict[str, Any]:
    figures: dict[str, int] = {}
    for name, (table, column, condition, _) in FIGURES.items():
        where, args = _where(stations, column, since, until)
        row = db.execute(f"SELECT count(*) FROM {table} WHERE {condition}{where}",
                         args).fetchone()
        figures[name] = int(row[0])
    where, args = _where(stations, "inspected_at", since, until)
    figures["venues_inspected"] = int(db.execute(
        f"SELECT count(DISTINCT venue_id) FROM inspections WHERE kind = 'routine'{where}",
        args).fetchone()[0])
    where, args = _where(stations, "opened_at", since, until)
    outcomes = {r["outcome"] or "open": r["n"] for r in db.query(
        f"SELECT outcome, count(*) AS n FROM incidents WHERE category = 'alarm'{where} "
        "GROUP BY outcome", args)}
    ack = [r[0] for r in db.execute(
        "SELECT (julianday(acknowledged_at) - julianday(opened_at)) * 86400 FROM incidents "
        f"WHERE category = 'alarm' AND acknowledged_at IS NOT NULL{where}", args).fetchall()]
    return {"since": iso(since), "until": iso(until), "stations": stations,
            "figures": figures, "alarms_by_outcome": outcomes,
            "ack_s": {"p50": _percentile(ack, 50), "p90": _percentile(ack, 90),
                      "p99": _percentile(ack, 99), "n": len(ack)}}
