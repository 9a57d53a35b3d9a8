"""HTTP routes for commissioning walk tests (see :mod:`central.commissioning`).

Starting one needs a ``reason`` (1-200 characters, shown on the duty console) and
takes a ``duration_s`` (default ``[commissioning] default_duration_s``, at most
``max_duration_s``); ``GET /api/commissioning/active`` lists the running ones.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import Field, StringConstraints

from central import commissioning
from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.devices import authorize_device
from central.api.models import ActionBody
from central.auth.permissions import Action

logger = logging.getLogger(__name__)

router = APIRouter(tags=["devices"])


class CommissioningBody(ActionBody):
    action: Literal["start", "stop"] = Field(description="start or stop the walk test")
    installer: str = Field("", max_length=120, description="Installer's name for the report")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=commissioning.REASON_MAX)] | None = \
        Field(None, description="Why the venue's alarms are tests for a while (required to "
                                "start; shown on the duty console), 1-200 characters.")
    duration_s: int | None = Field(None, ge=60, description="How long the walk test runs, in "
                                   "seconds (default [commissioning] default_duration_s, at "
                                   "most max_duration_s); it ends by itself then.")


@router.post("/api/devices/{device_id}/commissioning", responses={403: {}, 404: {}, 409: {}})
async def commission(service: Service, principal: CurrentPrincipal, device_id: str,
                     body: CommissioningBody) -> dict[str, Any]:
    """Start or stop a walk test: while it runs the device's events are test events."""
    await authorize_device(service, principal, "commissioning." + body.action,  # type: ignore[arg-type]
                           device_id,
                           audit_allowed=True)
    actor = principal.username
    limits = service.config.commissioning
    if body.action == "start":
        if body.reason is None:
            raise HTTPException(422, "reason: required to start a walk test (1-200 "
                                "characters: why the venue's alarms are tests meanwhile)")
        if body.duration_s is not None and body.duration_s > limits.max_duration_s:
            raise HTTPException(422, f"duration_s: at most {limits.max_duration_s} s "
                                "([commissioning] max_duration_s); ask for a shorter walk test")
    try:
        if body.action == "start":
            duration = timedelta(seconds=body.duration_s or limits.default_duration_s)
            return await service.writer.run(
                commissioning.start, device_id, actor, service.clock(),
                installer=body.installer, reason=body.reason or "", duration=duration,
                max_duration=timedelta(seconds=limits.max_duration_s))
        return await service.writer.run(commissioning.stop, device_id, actor, service.clock())
    except commissioning.CommissioningError as exc:
        code = 409 if "not in commissioning" in str(exc) else 404
        raise HTTPException(code, str(exc)) from None


@router.get("/api/commissioning/active", responses={403: {}})
async def active_walk_tests(service: Service,
                            principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """Walk tests running now in the user's part of the tree: device, venue, station,
    reason, who started it, end time.

    ``ends_at`` is UTC; ``ends_at_local`` is HH:MM in ``[audit] timezone``. Anyone who
    sees incidents or walk tests sees these (the console's banner).
    """
    action: Action = "incident.read" if principal.may("incident.read") else \
        "commissioning.read"
    await authorize(service, principal, action)
    rows = await service.readers.run(commissioning.active_walk_tests, service.clock(),
                                     service.config.audit.timezone)
    return [r for r in rows if principal.sees_venue(r["venue_id"], r["station_id"])]


@router.get("/api/devices/{device_id}/commissioning", responses={403: {}, 404: {}})
async def commissioning_state(service: Service, principal: CurrentPrincipal,
                              device_id: str) -> dict[str, Any]:
    await authorize_device(service, principal, "commissioning.read", device_id)
    try:
        return await service.readers.run(commissioning.session_view, device_id,
                                          service.clock())
    except commissioning.CommissioningError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/api/devices/{device_id}/commissioning/report", response_class=HTMLResponse,
            responses={403: {}, 404: {}})
async def commissioning_report(service: Service, principal: CurrentPrincipal,
                               device_id: str) -> HTMLResponse:
    """The printable HTML commissioning report of the latest walk test."""
    await authorize_device(service, principal, "commissioning.read", device_id)
    try:
        view = await service.readers.run(commissioning.session_view, device_id,
                                         service.clock())
    except commissioning.CommissioningError as exc:
        raise HTTPException(404, str(exc)) from None
    return HTMLResponse(commissioning.render_report(view, service.clock()))
