"""Lists the console's management pages read: the venues a user may inspect or manage,
recent inspection records with their signatures, and penalty cases. Read-only; each
row is filtered to the principal's part of the tree (a venue manager: their venue)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter

from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.management import PREFIX, read, venue_filter

logger = logging.getLogger(__name__)

router = APIRouter(tags=["management"])
#: the newest inspection records listed (older ones: the dashboard's records)
RECENT_INSPECTIONS = 100


def _where(stations: list[str] | None, column: str = "station_id") -> tuple[str, list[Any]]:
    if stations is None:
        return "", []
    return f" WHERE {column} IN ({','.join('?' * len(stations))})", list(stations)


def _venues(db: Any, stations: list[str] | None) -> list[dict[str, Any]]:
    where, args = _where(stations, "v.station_id")
    return [dict(r) for r in db.query(
        "SELECT v.id AS venue_id, v.name, v.kind, v.address, v.station_id, "
        "s.name AS station_name FROM venues v JOIN stations s ON s.id = v.station_id"
        + where + " ORDER BY v.station_id, v.id", args)]


def _inspections(db: Any, stations: list[str] | None) -> list[dict[str, Any]]:
    where, args = _where(stations)
    rows = [dict(r) for r in db.query(
        "SELECT id, station_id, venue_id, kind, inspected_at, place, inspectors, created_by, "
        "(SELECT json_group_array(username) FROM inspection_signatures s WHERE "
        "s.inspection_id = i.id) AS signed_by, (SELECT count(*) FROM photos p WHERE "
        "p.owner = 'inspection:' || i.id) AS photos FROM inspections i" + where
        + " ORDER BY id DESC LIMIT ?", [*args, RECENT_INSPECTIONS])]
    for row in rows:
        row["inspectors"] = json.loads(row["inspectors"])
        row["signed_by"] = json.loads(row["signed_by"])
    return rows


def _penalties(db: Any, stations: list[str] | None) -> list[dict[str, Any]]:
    where, args = _where(stations, "p.station_id")
    return [dict(r) for r in db.query(
        "SELECT p.*, v.name AS venue_name, n.number AS notice_number FROM penalties p "
        "JOIN venues v ON v.id = p.venue_id LEFT JOIN notices n ON n.id = p.notice_id"
        + where + " ORDER BY p.id DESC", args)]


@router.get(f"{PREFIX}/venues")
async def venues(service: Service, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """The venues the user may see in management (name, category for the checklist)."""
    await authorize(service, principal, "mgmt.read")
    return venue_filter(principal, await read(service, _venues, principal.station_filter))


@router.get(f"{PREFIX}/inspections")
async def inspections(service: Service, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """The newest inspection records, newest first, with who signed them."""
    await authorize(service, principal, "mgmt.read")
    return venue_filter(principal, await read(service, _inspections,
                                               principal.station_filter))


@router.get(f"{PREFIX}/penalties")
async def penalties(service: Service, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """Penalty cases, newest first: proposal, the leader's approval, the decision."""
    await authorize(service, principal, "mgmt.read")
    return venue_filter(principal, await read(service, _penalties, principal.station_filter))
