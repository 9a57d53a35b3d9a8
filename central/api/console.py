"""The duty console's routes (issue 12): its settings, venues and the map, notes and
procedure steps, history with CSV export, and the station's map tiles.

Times in the API are ISO 8601 UTC; ``GET /api/console`` tells the console the
station's zone (``[audit] timezone``) to show them in.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, StringConstraints

from alarmlink.config_base import StrictModel
from central import duty, incidents
from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.incidents import authorize_incident
from central.api.models import Incident, IncidentId
from central.auth.principal import Principal
from central.db import iso

logger = logging.getLogger(__name__)

router = APIRouter(tags=["console"])

TILE_NAME = re.compile(r"^[0-9]{1,7}\.(png|jpg|jpeg|webp)$")


class MapSettings(BaseModel):
    tiles: str = Field(description="none (plain background with county outlines), xyz or "
                                   "pmtiles")
    url: str | None = Field(description="Where the console loads the tiles from (central)")
    max_zoom: int


class ConsoleSettings(BaseModel):
    timezone: str = Field(description="IANA zone the console shows times in")
    ack_target_s: float = Field(description="Unacknowledged past this: amber")
    ack_red_s: float = Field(description="Unacknowledged past this: red")
    map: MapSettings


class NoteBody(StrictModel):
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000,
                                           strip_whitespace=True)] = Field(
        description="The note, as the officer typed it")


class StepBody(StrictModel):
    step: int = Field(ge=0, le=99, description="Procedure step, 0-based")
    done: bool = Field(True, description="true ticks the step, false unticks it")


def _principal_scope(principal: Principal) -> dict[str, Any]:
    return {"stations": principal.station_filter,
            "venues": None if principal.venues is None else sorted(principal.venues)}


@router.get("/api/console", response_model=ConsoleSettings)
async def console_settings(service: Service, principal: CurrentPrincipal) -> dict[str, Any]:
    """The console's settings: time zone, acknowledgement target, map base layer."""
    await authorize(service, principal, "incident.read")
    cfg = service.config.console
    if cfg.pmtiles is not None:
        tiles, url = "pmtiles", "/tiles/map.pmtiles"
    elif cfg.tiles_dir is not None:
        tiles, url = "xyz", "/tiles/{z}/{x}/{y}"
    else:
        tiles, url = "none", None
    return {"timezone": service.config.audit.timezone, "ack_target_s": cfg.ack_target_s,
            "ack_red_s": cfg.red_after_s,
            "map": {"tiles": tiles, "url": url, "max_zoom": cfg.max_zoom}}


@router.get("/api/venues")
async def venues(service: Service, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """The venues the user sees, with coordinates, contacts and procedure (预案)."""
    await authorize(service, principal, "incident.read")
    return await service.readers.run(duty.list_venues, **_principal_scope(principal))


@router.get("/api/map/counties")
async def counties(service: Service, principal: CurrentPrincipal) -> dict[str, Any]:
    """The registry's county outlines as GeoJSON (the map's background without tiles)."""
    await authorize(service, principal, "incident.read")
    return await service.readers.run(duty.county_outlines)


async def _incident_for(service: Service, principal: CurrentPrincipal,
                        incident_id: int) -> None:
    await authorize(service, principal, "incident.note", obj=f"incident:{incident_id}")
    incident = await service.readers.run(incidents.get_incident, incident_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    await authorize_incident(service, principal, "incident.note", incident,
                             audit_allowed=True)


@router.post("/api/incidents/{incident_id}/notes", response_model=Incident,
             responses={403: {}, 404: {}})
async def add_note(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                   body: NoteBody) -> dict[str, Any]:
    """Add a note to the incident's timeline (who and when are recorded)."""
    await _incident_for(service, principal, incident_id)
    incident: dict[str, Any] = await service.writer.run(
        duty.add_note, incident_id, principal.username, body.text, service.clock())
    service.hub.submit_threadsafe(incident)
    return incident


@router.post("/api/incidents/{incident_id}/procedure", response_model=Incident,
             responses={403: {}, 404: {}, 422: {}})
async def tick_step(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                    body: StepBody) -> dict[str, Any]:
    """Tick (or untick) a step of the venue's response procedure; recorded in the timeline."""
    await _incident_for(service, principal, incident_id)
    try:
        incident: dict[str, Any] = await service.writer.run(
            duty.tick_step, incident_id, principal.username, body.step, body.done,
            service.clock())
    except duty.StepError as exc:
        raise HTTPException(422, str(exc)) from None
    service.hub.submit_threadsafe(incident)
    return incident


def _bounds(service: Service, since: date | None, until: date | None) -> tuple[str | None,
                                                                             str | None]:
    """Station-local days -> UTC ISO bounds (``until`` inclusive: up to its midnight)."""
    zone = ZoneInfo(service.config.audit.timezone)

    def start_of(day: date) -> str:
        return iso(datetime.combine(day, time(), zone))

    return (start_of(since) if since else None,
            start_of(until + timedelta(days=1)) if until else None)


async def _history(service: Service, principal: CurrentPrincipal, station: str | None,
                   venue: str | None, kind: str | None, outcome: str | None,
                   since: date | None, until: date | None, q: str | None,
                   limit: int) -> list[dict[str, Any]]:
    await authorize(service, principal, "incident.read")
    start, end = _bounds(service, since, until)
    flt = duty.HistoryFilter(station=station, venue=venue, kind=kind, outcome=outcome,
                             since=start, until=end, text=q, limit=limit)
    rows: list[dict[str, Any]] = await service.readers.run(duty.history, flt,
                                                           **_principal_scope(principal))
    return rows


_FILTERS: dict[str, Any] = {
    "station": Query(None, max_length=64, description="Only this station"),
    "venue": Query(None, max_length=64, description="Only this venue"),
    "kind": Query(None, max_length=32, description="Incidents with an event of this kind"),
    "outcome": Query(None, max_length=32, description="Only this outcome"),
    "since": Query(None, alias="from", description="First day (station's zone), YYYY-MM-DD"),
    "until": Query(None, alias="to", description="Last day (station's zone), YYYY-MM-DD"),
    "q": Query(None, max_length=200, description="Text the incident's notes contain"),
    "limit": Query(500, ge=1, le=5000),
}


@router.get("/api/history", response_model=list[Incident])
async def history(service: Service, principal: CurrentPrincipal,
                  station: str | None = _FILTERS["station"],
                  venue: str | None = _FILTERS["venue"], kind: str | None = _FILTERS["kind"],
                  outcome: str | None = _FILTERS["outcome"],
                  since: date | None = _FILTERS["since"], until: date | None = _FILTERS["until"],
                  q: str | None = _FILTERS["q"], limit: int = _FILTERS["limit"],
                  ) -> list[dict[str, Any]]:
    """Incidents no longer open, newest first, filtered."""
    return await _history(service, principal, station, venue, kind, outcome, since, until,
                          q, limit)


@router.get("/api/history.csv", response_class=Response)
async def history_csv(service: Service, principal: CurrentPrincipal,
                      station: str | None = _FILTERS["station"],
                      venue: str | None = _FILTERS["venue"], kind: str | None = _FILTERS["kind"],
                      outcome: str | None = _FILTERS["outcome"],
                      since: date | None = _FILTERS["since"],
                      until: date | None = _FILTERS["until"],
                      q: str | None = _FILTERS["q"], limit: int = _FILTERS["limit"],
                      ) -> Response:
    """The same rows as ``/api/history``, as CSV (UTF-8 with BOM)."""
    rows = await _history(service, principal, station, venue, kind, outcome, since, until,
                          q, limit)
    return Response("\ufeff" + duty.history_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="incidents.csv"'})


@router.get("/tiles/map.pmtiles", include_in_schema=False)
async def pmtiles(service: Service, principal: CurrentPrincipal) -> FileResponse:
    await authorize(service, principal, "incident.read")
    path = service.config.console.pmtiles
    if path is None or not path.is_file():
        raise HTTPException(404, "no PMTiles file installed ([console] pmtiles)")
    return FileResponse(path, media_type="application/octet-stream")


@router.get("/tiles/{z}/{x}/{name}", include_in_schema=False)
async def tile(service: Service, principal: CurrentPrincipal, z: int, x: int,
               name: str) -> FileResponse:
    await authorize(service, principal, "incident.read")
    root = service.config.console.tiles_dir
    if root is None or not TILE_NAME.match(name) or not 0 <= z <= 22 or x < 0:
        raise HTTPException(404, "no such tile")
    stem = name.split(".")[0]
    for ext in ("png", "jpg", "jpeg", "webp"):
        path = Path(root, str(z), str(x), f"{stem}.{ext}")
        if path.is_file():
            return FileResponse(path)
    raise HTTPException(404, "no such tile")
