"""HTTP routes for commissioning walk tests (see :mod:`central.commissioning`)."""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import Field

from central import commissioning
from central.api.deps import CurrentPrincipal, Service
from central.api.devices import authorize_device
from central.api.models import ActionBody

logger = logging.getLogger(__name__)

router = APIRouter(tags=["devices"])


class CommissioningBody(ActionBody):
    action: Literal["start", "stop"] = Field(description="start or stop the walk test")
    installer: str = Field("", max_length=120, description="Installer's name for the report")


@router.post("/api/devices/{device_id}/commissioning", responses={403: {}, 404: {}, 409: {}})
async def commission(service: Service, principal: CurrentPrincipal, device_id: str,
                     body: CommissioningBody) -> dict[str, Any]:
    """Start or stop a walk test: while it runs the device's events are test events."""
    await authorize_device(service, principal, "commissioning." + body.action,  # type: ignore[arg-type]
                           device_id,
                           audit_allowed=True)
    actor = principal.username
    try:
        if body.action == "start":
            return await service.writer.run(commissioning.start, device_id, actor,
                                            service.clock(), installer=body.installer)
        return await service.writer.run(commissioning.stop, device_id, actor, service.clock())
    except commissioning.CommissioningError as exc:
        code = 409 if "not in commissioning" in str(exc) else 404
        raise HTTPException(code, str(exc)) from None


@router.get("/api/devices/{device_id}/commissioning", responses={403: {}, 404: {}})
async def commissioning_state(service: Service, principal: CurrentPrincipal,
                              device_id: str) -> dict[str, Any]:
    await authorize_device(service, principal, "commissioning.read", device_id)
    try:
        return await service.readers.run(commissioning.session_view, device_id)
    except commissioning.CommissioningError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/api/devices/{device_id}/commissioning/report", response_class=HTMLResponse,
            responses={403: {}, 404: {}})
async def commissioning_report(service: Service, principal: CurrentPrincipal,
                               device_id: str) -> HTMLResponse:
    """The printable HTML commissioning report of the latest walk test."""
    await authorize_device(service, principal, "commissioning.read", device_id)
    try:
        view = await service.readers.run(commissioning.session_view, device_id)
    except commissioning.CommissioningError as exc:
        raise HTTPException(404, str(exc)) from None
    return HTMLResponse(commissioning.render_report(view, service.clock()))
