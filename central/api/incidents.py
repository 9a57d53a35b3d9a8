"""Incident routes: the lists, one incident with its events and log, the officers' actions."""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from sqlite_utils import Database

from alarmlink.wire import Outcome
from central import incidents
from central.api.deps import Service, acting_officer
from central.api.models import (
    ActionBody,
    Incident,
    IncidentDetail,
    IncidentId,
    ResolveBody,
)

logger = logging.getLogger(__name__)

router = APIRouter(tags=["incidents"])


@router.get("/api/incidents", response_model=list[Incident])
async def list_incidents(
    service: Service,
    station: str | None = Query(None, description="Only this station's incidents"),
    status: Literal["open", "all"] = Query("open", description="open or all"),
    category: Literal["alarm", "trouble"] | None = Query(None),
    limit: int = Query(200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    return await service.readers.run(incidents.list_incidents, station=station,
                                     open_only=status == "open", category=category,
                                     limit=limit)


def _detail(db: Database, incident_id: int) -> dict[str, Any] | None:
    incident = incidents.get_incident(db, incident_id)
    if incident is None:
        return None
    return {"incident": incident, "events": incidents.incident_events(db, incident_id),
            "log": incidents.incident_log(db, incident_id)}


@router.get("/api/incidents/{incident_id}", response_model=IncidentDetail)
async def get_incident(service: Service, incident_id: IncidentId) -> dict[str, Any]:
    detail = await service.readers.run(_detail, incident_id)
    if detail is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    return detail


async def _act(request: Request, service: Service, incident_id: int,
               action: incidents.Action, body: ActionBody,
               outcome: Outcome | None = None) -> dict[str, Any]:
    actor = acting_officer(request, body)
    try:
        return await service.act(incident_id, action, actor, note=body.note, outcome=outcome)
    except incidents.IncidentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except incidents.TransitionError as exc:
        raise HTTPException(409, str(exc)) from None


_ANSWERS: dict[int | str, dict[str, Any]] = {404: {}, 409: {}}


@router.post("/api/incidents/{incident_id}/acknowledge", response_model=Incident,
             responses=_ANSWERS)
async def acknowledge(request: Request, service: Service, incident_id: IncidentId,
                      body: ActionBody) -> dict[str, Any]:
    return await _act(request, service, incident_id, "acknowledge", body)


@router.post("/api/incidents/{incident_id}/dispatch", response_model=Incident,
             responses=_ANSWERS)
async def dispatch(request: Request, service: Service, incident_id: IncidentId,
                   body: ActionBody) -> dict[str, Any]:
    return await _act(request, service, incident_id, "dispatch", body)


@router.post("/api/incidents/{incident_id}/resolve", response_model=Incident,
             responses=_ANSWERS)
async def resolve(request: Request, service: Service, incident_id: IncidentId,
                  body: ResolveBody) -> dict[str, Any]:
    return await _act(request, service, incident_id, "resolve", body, body.outcome)


@router.post("/api/incidents/{incident_id}/close", response_model=Incident,
             responses=_ANSWERS)
async def close(request: Request, service: Service, incident_id: IncidentId,
                body: ActionBody) -> dict[str, Any]:
    return await _act(request, service, incident_id, "close", body)
