"""One-key management routes (一键式管理): checklists, plans, inspections, photos and
hazards. Villages and teams are in :mod:`central.api.management_org`; notices, penalties,
scores and the dashboard in :mod:`central.api.management_cases`.

Every route authorises with :func:`central.api.deps.authorize` against the object's
station and venue (a venue manager sees only their venue); every state change is audited
(``audit_allowed=True``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import AwareDatetime, Field

from alarmlink.config_base import StrictModel
from central.api.deps import CurrentPrincipal, Service, authorize
from central.auth.permissions import Action
from central.auth.principal import Principal
from central.management import checklists, inspections, notices
from central.management.common import MgmtError, venue_station

logger = logging.getLogger(__name__)

router = APIRouter(tags=["management"])
PREFIX = "/api/management"
Id = Annotated[int, Field(ge=1, le=2**62)]


async def write(service: Service, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a management change on the writer; its refusal becomes the HTTP answer."""
    try:
        return await service.writer.run(fn, *args, **kwargs)
    except MgmtError as exc:
        raise HTTPException(exc.status, str(exc)) from None


async def read(service: Service, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return await service.readers.run(fn, *args, **kwargs)
    except MgmtError as exc:
        raise HTTPException(exc.status, str(exc)) from None


async def at_venue(service: Service, principal: Principal, action: Action, venue_id: str,
                   obj: str, *, audit: bool = False) -> str:
    """Authorise ``action`` on an object of ``venue_id``; returns the venue's station."""
    await authorize(service, principal, action, obj=obj)
    station = await read(service, venue_station, venue_id)
    await authorize(service, principal, action, station_id=station, venue_id=venue_id,
                    obj=obj, audit_allowed=audit)
    return str(station)


def venue_filter(principal: Principal, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the rows of venues the principal sees."""
    return [r for r in rows if principal.sees_venue(r["venue_id"], r["station_id"])]


class ChecklistItem(StrictModel):
    code: str = Field(max_length=40, pattern=r"^[a-z0-9-]+$", description="Item code.")
    text: str = Field(max_length=200, description="What is checked.")
    rule: str = Field(max_length=200, description="The rule it checks (e.g. GB 35181-2017).")


class ChecklistBody(StrictModel):
    station: str = Field(max_length=64, description="The station whose copy this is.")
    category: Literal["school", "hotel", "village"] = Field(description="Venue category.")
    items: list[ChecklistItem] = Field(min_length=1, max_length=200, description="Items.")


@router.get(f"{PREFIX}/checklists", responses={403: {}, 404: {}})
async def get_checklist(service: Service, principal: CurrentPrincipal,
                        station: Annotated[str, Query(max_length=64)],
                        category: Annotated[str, Query(max_length=20)]) -> dict[str, Any]:
    await authorize(service, principal, "mgmt.read", station_id=station,
                    obj=f"station:{station}")
    return dict(await read(service, checklists.current, station, category))


@router.put(f"{PREFIX}/checklists", responses={403: {}, 422: {}})
async def put_checklist(service: Service, principal: CurrentPrincipal,
                        body: ChecklistBody) -> dict[str, Any]:
    await authorize(service, principal, "checklist.manage", station_id=body.station,
                    obj=f"checklist:{body.station}:{body.category}", audit_allowed=True)
    return dict(await write(service, checklists.save, body.station, body.category,
                            [i.model_dump() for i in body.items], principal.username,
                            service.clock()))


class PlanBody(StrictModel):
    venue: str = Field(max_length=64, description="Venue to inspect.")
    every_days: int = Field(ge=1, le=3660, description="How often, in days (30: monthly).")
    inspectors: list[Annotated[str, Field(max_length=64)]] = Field(
        max_length=10, description="Who inspects.")


@router.put(f"{PREFIX}/plans", responses={403: {}, 404: {}})
async def put_plan(service: Service, principal: CurrentPrincipal,
                   body: PlanBody) -> dict[str, Any]:
    station = await at_venue(service, principal, "plan.manage", body.venue,
                             f"plan:{body.venue}", audit=True)
    return dict(await write(service, inspections.set_plan, station, body.venue,
                            body.every_days, body.inspectors, principal.username,
                            service.clock()))


@router.get(f"{PREFIX}/plans")
async def get_plans(service: Service, principal: CurrentPrincipal) -> dict[str, Any]:
    await authorize(service, principal, "mgmt.read")
    rows = venue_filter(principal, await read(service, inspections.plans,
                                              principal.station_filter, service.clock()))
    return {"plans": rows, "overdue": sum(1 for r in rows if r["overdue"])}


class ItemResult(StrictModel):
    code: str = Field(max_length=40, description="Checklist item code.")
    result: Literal["pass", "fail", "na"] = Field(description="pass, fail (a hazard), na.")
    note: str = Field("", max_length=1000, description="What was found.")
    severity: Literal["general", "major"] = Field(
        "general", description="For a failed item: general, or major (GB 35181).")
    location: str = Field("", max_length=200, description="Where in the venue.")


class InspectionBody(StrictModel):
    venue: str = Field(max_length=64, description="Venue inspected.")
    inspected_at: AwareDatetime = Field(description="Date and time of the inspection.")
    place: str = Field(max_length=200, description="Place (地点).")
    inspectors: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=2, max_length=10, description="At least two inspectors (user names).")
    results: list[ItemResult] = Field(max_length=200, description="Each item's result.")
    notes: str = Field("", max_length=4000, description="Notes.")


@router.post(f"{PREFIX}/inspections", responses={403: {}, 404: {}, 422: {}})
async def add_inspection(service: Service, principal: CurrentPrincipal,
                         body: InspectionBody) -> dict[str, Any]:
    await at_venue(service, principal, "inspection.record", body.venue,
                   f"venue:{body.venue}", audit=True)
    return dict(await write(service, inspections.record, venue_id=body.venue,
                            inspected_at=body.inspected_at, place=body.place,
                            inspectors=body.inspectors,
                            results=[r.model_dump() for r in body.results], notes=body.notes,
                            actor=principal.username, now=service.clock()))


@router.get(f"{PREFIX}/inspections/{{inspection_id}}", responses={403: {}, 404: {}})
async def get_inspection(service: Service, principal: CurrentPrincipal,
                         inspection_id: int) -> dict[str, Any]:
    found = await read(service, inspections.get, inspection_id)
    await at_venue(service, principal, "mgmt.read", found["venue_id"],
                   f"inspection:{inspection_id}")
    return dict(found)


@router.post(f"{PREFIX}/inspections/{{inspection_id}}/confirm", responses={403: {}, 404: {}})
async def confirm_inspection(service: Service, principal: CurrentPrincipal,
                             inspection_id: int) -> dict[str, Any]:
    found = await read(service, inspections.get, inspection_id)
    await at_venue(service, principal, "inspection.record", found["venue_id"],
                   f"inspection:{inspection_id}", audit=True)
    return dict(await write(service, inspections.confirm, inspection_id, principal.username,
                            service.clock()))


@router.post(f"{PREFIX}/photos", responses={403: {}, 404: {}, 413: {}, 415: {}})
async def upload_photo(service: Service, principal: CurrentPrincipal, request: Request,
                       owner: Annotated[str, Query(max_length=40,
                                                   description="inspection:ID, hazard:ID or "
                                                               "notice:ID")]) -> dict[str, Any]:
    """A photo as the raw request body (Content-Type image/jpeg, png or webp)."""
    station, venue = await read(service, inspections.owner_place, owner)
    action: Action = "notice.proof" if owner.startswith("notice:") else "hazard.record"
    await authorize(service, principal, action, station_id=station, venue_id=venue,
                    obj=owner, audit_allowed=True)
    data = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    return dict(await write(service, inspections.add_photo, owner, station, venue,
                            content_type, data, principal.username, service.clock()))


@router.get(f"{PREFIX}/photos/{{photo_id}}", responses={403: {}, 404: {}})
async def get_photo(service: Service, principal: CurrentPrincipal, photo_id: int) -> Response:
    found = await read(service, inspections.photo, photo_id)
    await authorize(service, principal, "mgmt.read", station_id=found["station_id"],
                    venue_id=found["venue_id"], obj=f"photo:{photo_id}")
    return Response(found["data"], media_type=found["content_type"])


class HazardBody(StrictModel):
    venue: str = Field(max_length=64, description="Venue.")
    severity: Literal["general", "major"] = Field(description="general, or major (GB 35181).")
    description: str = Field(min_length=1, max_length=1000, description="The hazard.")
    location: str = Field("", max_length=200, description="Where in the venue.")
    found_at: AwareDatetime | None = Field(None, description="When found (default now).")


@router.post(f"{PREFIX}/hazards", responses={403: {}, 404: {}})
async def add_hazard(service: Service, principal: CurrentPrincipal,
                     body: HazardBody) -> dict[str, Any]:
    await at_venue(service, principal, "hazard.record", body.venue, f"venue:{body.venue}",
                   audit=True)
    now = service.clock()
    return dict(await write(service, notices.add_hazard, venue_id=body.venue,
                            severity=body.severity, description=body.description,
                            location=body.location, actor=principal.username,
                            found_at=body.found_at or now, now=now))


def _hazards(db: Any, stations: list[str] | None, status: str | None) -> list[dict[str, Any]]:
    sql, args = "SELECT * FROM hazards WHERE 1 = 1", []
    if stations is not None:
        sql += f" AND station_id IN ({','.join('?' * len(stations))})"
        args += stations
    if status:
        sql += " AND status = ?"
        args.append(status)
    return [dict(r) for r in db.query(sql + " ORDER BY id", args)]


@router.get(f"{PREFIX}/hazards")
async def list_hazards(service: Service, principal: CurrentPrincipal,
                       status: Annotated[str | None, Query(max_length=20)] = None
                       ) -> list[dict[str, Any]]:
    await authorize(service, principal, "mgmt.read")
    return venue_filter(principal, await read(service, _hazards, principal.station_filter,
                                               status))


@router.get(f"{PREFIX}/hazards/{{hazard_id}}", responses={403: {}, 404: {}})
async def get_hazard(service: Service, principal: CurrentPrincipal,
                     hazard_id: int) -> dict[str, Any]:
    found = await read(service, notices.get_hazard, hazard_id)
    await at_venue(service, principal, "mgmt.read", found["venue_id"], f"hazard:{hazard_id}")
    found["timeline"] = await read(service, notices.timeline, hazard_id)
    found["photos"] = await read(service, inspections.hazard_photos, hazard_id,
                                 found.get("inspection_id"))
    return dict(found)


def parse_when(value: str | None, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"time {value!r} not understood: write ISO 8601") from None
