"""What the duty console needs beyond the incident lifecycle (issue 12).

* notes and procedure (预案) steps: written to ``incident_log`` with the officer and
  the time, so they are in the incident's timeline after a reload;
* the venue card: address, coordinates, contacts and keyholders, procedure;
* the map: venues with coordinates, county outlines as GeoJSON;
* history: closed (resolved or closed) incidents with filters, full text on notes,
  and the same rows as CSV.

Every function takes the database connection first: the API runs them on the
writer (notes, steps) or on a reader thread, never on the event loop.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from central import incidents
from central.db import OPEN_STATUSES, iso, query_one, write_tx

logger = logging.getLogger(__name__)


class StepError(ValueError):
    """A procedure step the venue does not have."""


def _touch(db: Database, incident_id: int, at: str) -> None:
    # A note or a step is a change the other consoles should see: bump the version.
    db.execute("UPDATE incidents SET updated_at = ?, version = version + 1 WHERE id = ?",
               [at, incident_id])


def add_note(db: Database, incident_id: int, actor: str, text: str,
             now: datetime) -> dict[str, Any]:
    """Append an officer's note to the incident's log; returns the incident."""
    at = iso(now)
    with write_tx(db):
        if query_one(db, "SELECT id FROM incidents WHERE id = ?", [incident_id]) is None:
            raise incidents.IncidentNotFound(f"incident {incident_id} does not exist")
        incidents.log_action(db, incident_id, at, actor, "note", {"text": text})
        _touch(db, incident_id, at)
    logger.info("incident %s: note by %s", incident_id, actor)
    incident = incidents.get_incident(db, incident_id)
    assert incident is not None
    return incident


def tick_step(db: Database, incident_id: int, actor: str, step: int, done: bool,
              now: datetime) -> dict[str, Any]:
    """Tick (or untick) step ``step`` (0-based) of the venue's procedure; returns the incident."""
    at = iso(now)
    with write_tx(db):
        row = query_one(db, "SELECT v.procedure FROM incidents i JOIN venues v "
                            "ON v.id = i.venue_id WHERE i.id = ?", [incident_id])
        if row is None:
            raise incidents.IncidentNotFound(f"incident {incident_id} does not exist")
        steps = json.loads(row["procedure"] or "[]")
        if not 0 <= step < len(steps):
            raise StepError(f"the venue's procedure has {len(steps)} steps; "
                            f"step {step + 1} does not exist")
        incidents.log_action(db, incident_id, at, actor, "procedure",
                             {"step": step, "text": steps[step], "done": done})
        _touch(db, incident_id, at)
    logger.info("incident %s: procedure step %s %s by %s", incident_id, step + 1,
                "done" if done else "undone", actor)
    incident = incidents.get_incident(db, incident_id)
    assert incident is not None
    return incident


def procedure_state(log: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """step -> the last tick of it (``done``, ``actor``, ``at``), from the incident log."""
    state: dict[int, dict[str, Any]] = {}
    for entry in log:
        if entry["action"] == "procedure":
            state[int(entry["detail"]["step"])] = {"done": bool(entry["detail"]["done"]),
                                                   "actor": entry["actor"], "at": entry["at"]}
    return state


def _venue_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["contacts"] = json.loads(out.get("contacts") or "[]")
    out["procedure"] = json.loads(out.get("procedure") or "[]")
    return out


_VENUE_SELECT = ("SELECT v.id, v.name, v.kind, v.address, v.station_id, s.name AS station_name, "
                 "s.phone AS station_phone, v.lat, v.lon, v.contacts, v.procedure "
                 "FROM venues v JOIN stations s ON s.id = v.station_id")


def venue_card(db: Database, venue_id: str) -> dict[str, Any] | None:
    rows = list(db.query(_VENUE_SELECT + " WHERE v.id = ?", [venue_id]))
    return _venue_dict(rows[0]) if rows else None


def list_venues(db: Database, stations: Sequence[str] | None = None,
                venues: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Venues (of these stations / these venues only when given), by id."""
    where, params = _scope_sql("v.station_id", "v.id", stations, venues)
    sql = _VENUE_SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY v.id"
    return [_venue_dict(r) for r in db.query(sql, params)]


def county_outlines(db: Database) -> dict[str, Any]:
    """The registry's county outlines as a GeoJSON FeatureCollection (polygons)."""
    features = []
    for row in db.query("SELECT id, name, outline FROM counties WHERE outline IS NOT NULL "
                        "ORDER BY id"):
        ring = [list(point) for point in json.loads(row["outline"])]
        if ring and ring[0] != ring[-1]:
            ring.append(ring[0])
        features.append({"type": "Feature", "properties": {"id": row["id"], "name": row["name"]},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": features}


def _scope_sql(station_col: str, venue_col: str, stations: Sequence[str] | None,
               venues: Sequence[str] | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for column, allowed in ((station_col, stations), (venue_col, venues)):
        if allowed is not None:
            where.append(f"{column} IN ({', '.join('?' * len(allowed))})" if allowed else "0")
            params.extend(allowed)
    return where, params


@dataclass(frozen=True)
class HistoryFilter:
    """History's filters; None = any. ``since``/``until``: ISO UTC bounds on ``opened_at``."""

    station: str | None = None
    venue: str | None = None
    kind: str | None = None
    outcome: str | None = None
    since: str | None = None
    until: str | None = None
    text: str | None = None
    limit: int = 500


def history(db: Database, flt: HistoryFilter, stations: Sequence[str] | None = None,
            venues: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Incidents no longer open, newest first, with the filters; ``text`` searches notes."""
    where, params = _scope_sql("i.station_id", "i.venue_id", stations, venues)
    where.append(f"i.status NOT IN ({', '.join('?' * len(OPEN_STATUSES))})")
    params.extend(OPEN_STATUSES)
    for column, value in (("i.station_id", flt.station), ("i.venue_id", flt.venue),
                          ("i.outcome", flt.outcome)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if flt.kind:
        where.append("EXISTS (SELECT 1 FROM json_each(i.kinds) WHERE value = ?)")
        params.append(flt.kind)
    if flt.since:
        where.append("i.opened_at >= ?")
        params.append(flt.since)
    if flt.until:
        where.append("i.opened_at < ?")
        params.append(flt.until)
    if flt.text:
        where.append("EXISTS (SELECT 1 FROM incident_log l WHERE l.incident_id = i.id AND "
                     "instr(lower(CASE WHEN l.action = 'note' THEN json_extract(l.detail, "
                     "'$.text') ELSE coalesce(json_extract(l.detail, '$.note'), '') END), "
                     "lower(?)) > 0)")
        params.append(flt.text)
    sql = (incidents.INCIDENT_SELECT + " WHERE " + " AND ".join(where) +
           " ORDER BY i.opened_at DESC, i.id DESC LIMIT ?")
    return [incidents.incident_dict(r) for r in db.query(sql, [*params, flt.limit])]


CSV_COLUMNS = ("id", "category", "station_name", "venue_name", "kinds", "zones", "opened_at",
               "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "outcome",
               "closed_at", "event_count")


def history_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as CSV (UTF-8 with a BOM in the response, so spreadsheets read Chinese)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = []
        for column in CSV_COLUMNS:
            value = row.get(column)
            if column == "kinds":
                value = " ".join(value or [])
            elif column == "zones":
                value = " ".join(f"{z}={s}" for z, s in (value or {}).items())
            text = "" if value is None else str(value)
            if text[:1] in ("=", "+", "-", "@"):  # no formulas from device-supplied text
                text = "'" + text
            cells.append(text)
        writer.writerow(cells)
    return out.getvalue()
