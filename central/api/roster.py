"""Duty roster, escalation and 119/120 routes.

``GET /api/roster`` answers who is on duty at a station at any moment; shifts are added
and removed by leaders; ``POST /api/incidents/{id}/notify`` notifies 119, 120 or the
village team; ``GET /api/incidents/{id}/notifications`` lists every attempt;
``GET /api/escalation/figures`` the times to acknowledgement and to 119.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime, Field

from alarmlink.config_base import StrictModel
from central import incidents
from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.incidents import authorize_incident
from central.api.models import IncidentId
from central.escalation import figures, roster, services

logger = logging.getLogger(__name__)

router = APIRouter(tags=["roster"])


class ShiftBody(StrictModel):
    station: str = Field(max_length=64, description="Station id.")
    username: str = Field(max_length=64, description="The officer (a user) on duty.")
    duty: Literal["officer", "leader"] = Field(description="officer on duty, or leader on call.")
    starts_at: AwareDatetime = Field(description="Shift start (with time zone).")
    ends_at: AwareDatetime = Field(description="Shift end (with time zone).")


class NotifyBody(StrictModel):
    service: str = Field(max_length=32, pattern=r"^[0-9a-z_-]+$",
                         description="119, 120, or village (the village team).")


@router.get("/api/roster")
async def get_roster(service: Service, principal: CurrentPrincipal,
                     station: Annotated[str, Query(max_length=64, description="Station id")],
                     at: Annotated[AwareDatetime | None,
                                   Query(description="Moment (default now)")] = None
                     ) -> dict[str, Any]:
    await authorize(service, principal, "roster.read", station_id=station,
                    obj=f"station:{station}")
    moment = at or service.clock()
    on_duty = await service.readers.run(roster.on_duty, station, moment)
    shifts = await service.readers.run(roster.list_shifts, station)
    return {"station": station, "at": moment.isoformat(), "on_duty": on_duty, "shifts": shifts}


@router.post("/api/roster/shifts", responses={403: {}, 422: {}})
async def add_shift(service: Service, principal: CurrentPrincipal,
                    body: ShiftBody) -> dict[str, Any]:
    await authorize(service, principal, "roster.manage", station_id=body.station,
                    obj=f"station:{body.station}", audit_allowed=True)
    try:
        return await service.writer.run(roster.add_shift, station_id=body.station,
                                        username=body.username, duty=body.duty,
                                        starts_at=body.starts_at, ends_at=body.ends_at,
                                        actor=principal.username, now=service.clock())
    except roster.RosterError as exc:
        raise HTTPException(422, str(exc)) from None


@router.delete("/api/roster/shifts/{shift_id}", responses={403: {}, 404: {}})
async def remove_shift(service: Service, principal: CurrentPrincipal,
                       shift_id: int) -> dict[str, Any]:
    await authorize(service, principal, "roster.manage", obj=f"shift:{shift_id}")
    shift = await service.readers.run(roster.get_shift, shift_id)
    if shift is None:
        raise HTTPException(404, f"shift {shift_id} does not exist")
    await authorize(service, principal, "roster.manage", station_id=shift["station_id"],
                    obj=f"shift:{shift_id}", audit_allowed=True)
    removed = await service.writer.run(roster.remove_shift, shift_id)
    if removed is None:
        raise HTTPException(404, f"shift {shift_id} does not exist")
    return removed


async def _incident(service: Service, incident_id: int) -> dict[str, Any]:
    incident = await service.readers.run(incidents.get_incident, incident_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    return incident


@router.post("/api/incidents/{incident_id}/notify", responses={403: {}, 404: {}, 422: {}})
async def notify(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                 body: NotifyBody) -> dict[str, Any]:
    await authorize(service, principal, "incident.notify", obj=f"incident:{incident_id}")
    incident = await _incident(service, incident_id)
    await authorize_incident(service, principal, "incident.notify", incident,
                             audit_allowed=True)
    try:
        return await service.writer.run(services.notify, service.config.escalation,
                                        incident_id, body.service, principal.username,
                                        service.clock())
    except services.NotifyError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/api/incidents/{incident_id}/notifications", responses={403: {}, 404: {}})
async def notifications(service: Service, principal: CurrentPrincipal,
                        incident_id: IncidentId) -> dict[str, Any]:
    await authorize(service, principal, "incident.read", obj=f"incident:{incident_id}")
    incident = await _incident(service, incident_id)
    await authorize_incident(service, principal, "incident.read", incident)
    return await service.readers.run(figures.incident_notifications, incident_id,
                                     service.config.escalation.notify_target_s,
                                     service.clock())


@router.get("/api/escalation/figures")
async def escalation_figures(service: Service, principal: CurrentPrincipal,
                             since: Annotated[datetime | None, Query()] = None
                             ) -> dict[str, Any]:
    await authorize(service, principal, "incident.read")
    return await service.readers.run(figures.figures, principal.station_filter, since)
