"""Incident routes: the lists, one incident with its events and log, the officers' actions."""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from sqlite_utils import Database

from alarmlink.wire import Outcome
from central import duty, incidents
from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.models import ActionBody, Incident, IncidentDetail, IncidentId, ResolveBody
from central.auth.permissions import Action

logger = logging.getLogger(__name__)

router = APIRouter(tags=["incidents"])


@router.get("/api/incidents", response_model=list[Incident])
async def list_incidents(
    service: Service,
    principal: CurrentPrincipal,
    station: str | None = Query(None, description="Only this station's incidents"),
    status: Literal["open", "all"] = Query("open", description="open or all"),
    category: Literal["alarm", "trouble"] | None = Query(None),
    limit: int = Query(200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """The incidents of the user's part of the organisation (``station`` narrows it)."""
    await authorize(service, principal, "incident.read")
    return await service.readers.run(incidents.list_incidents, station=station,
                                     open_only=status == "open", category=category,
                                     limit=limit, stations=principal.station_filter,
                                     venues=_venues(principal))


def _venues(principal: CurrentPrincipal) -> list[str] | None:
    return None if principal.venues is None else sorted(principal.venues)


def _detail(db: Database, incident_id: int) -> dict[str, Any] | None:
    incident = incidents.get_incident(db, incident_id)
    if incident is None:
        return None
    log = incidents.incident_log(db, incident_id)
    return {"incident": incident, "events": incidents.incident_events(db, incident_id),
            "log": log, "venue": duty.venue_card(db, incident["venue_id"]),
            "procedure": {str(k): v for k, v in duty.procedure_state(log).items()}}


@router.get("/api/incidents/{incident_id}", response_model=IncidentDetail,
            responses={403: {}, 404: {}})
async def get_incident(service: Service, principal: CurrentPrincipal,
                       incident_id: IncidentId) -> dict[str, Any]:
    await authorize(service, principal, "incident.read")
    detail = await service.readers.run(_detail, incident_id)
    if detail is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    await authorize_incident(service, principal, "incident.read", detail["incident"])
    return detail


async def authorize_incident(service: Service, principal: CurrentPrincipal,
                             action: Action, incident: dict[str, Any], *,
                             audit_allowed: bool = False) -> None:
    """403 unless the incident's station (and venue) is in the principal's scope."""
    await authorize(service, principal, action, station_id=incident["station_id"],
                    venue_id=incident["venue_id"], obj=f"incident:{incident['id']}",
                    audit_allowed=audit_allowed)


async def _act(service: Service, principal: CurrentPrincipal, incident_id: int,
               action: incidents.Action, body: ActionBody,
               outcome: Outcome | None = None) -> dict[str, Any]:
    permission: Action = f"incident.{action}"  # type: ignore[assignment]
    await authorize(service, principal, permission, obj=f"incident:{incident_id}")
    incident = await service.readers.run(incidents.get_incident, incident_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    await authorize_incident(service, principal, permission, incident, audit_allowed=True)
    try:
        return await service.act(incident_id, action, principal.username, note=body.note,
                                 outcome=outcome)
    except incidents.IncidentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except incidents.TransitionError as exc:
        raise HTTPException(409, str(exc)) from None


_ANSWERS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 409: {}}


@router.post("/api/incidents/{incident_id}/acknowledge", response_model=Incident,
             responses=_ANSWERS)
async def acknowledge(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                      body: ActionBody) -> dict[str, Any]:
    return await _act(service, principal, incident_id, "acknowledge", body)


@router.post("/api/incidents/{incident_id}/dispatch", response_model=Incident,
             responses=_ANSWERS)
async def dispatch(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                   body: ActionBody) -> dict[str, Any]:
    return await _act(service, principal, incident_id, "dispatch", body)


@router.post("/api/incidents/{incident_id}/resolve", response_model=Incident,
             responses=_ANSWERS)
async def resolve(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                  body: ResolveBody) -> dict[str, Any]:
    return await _act(service, principal, incident_id, "resolve", body, body.outcome)


@router.post("/api/incidents/{incident_id}/close", response_model=Incident,
             responses=_ANSWERS)
async def close(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                body: ActionBody) -> dict[str, Any]:
    return await _act(service, principal, incident_id, "close", body)
