"""Device routes: the device board, remote commands; and the stations of the registry.

Lists show only the user's part of the organisation; one device outside it is 403.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import ValidationError

from alarmlink.wire import CommandName
from central import registry
from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.models import CommandBody, CommandView, DeviceInfo, StationInfo
from central.auth.permissions import Action
from central.auth.principal import Principal

logger = logging.getLogger(__name__)

router = APIRouter()
#: Largest page of `GET /api/devices`.
MAX_DEVICE_PAGE = 1000

#: the permission each remote command needs
COMMAND_ACTIONS: dict[CommandName, Action] = {
    CommandName.SELF_TEST: "device.self_test",
    CommandName.SILENCE: "device.silence",
    CommandName.RELOAD_CONFIG: "device.reload",
    CommandName.REBOOT: "device.reboot",
    CommandName.SNAPSHOT: "snapshot.live",
}


def in_scope(principal: Principal, row: dict[str, Any]) -> bool:
    """Whether a row with ``station_id`` (and ``venue_id``) is in the principal's scope."""
    venue = row.get("venue_id")
    if venue is None:
        return principal.sees_station(row["station_id"])
    return principal.sees_venue(venue, row["station_id"])


async def authorize_device(service: Service, principal: Principal, action: Action,
                           device_id: str, *, audit_allowed: bool = False) -> dict[str, Any]:
    """The device's route (``station_id``, ``venue_id``) after the permission check;
    403 outside the principal's scope, 404 for an unknown device."""
    obj = f"device:{device_id}"
    await authorize(service, principal, action, obj=obj)
    route = await service.readers.run(registry.device_route, device_id)
    if route is None:
        raise HTTPException(404, f"device {device_id!r} is not registered")
    await authorize(service, principal, action, station_id=route["station_id"],
                    venue_id=route["venue_id"], obj=obj, audit_allowed=audit_allowed)
    return route


@router.get("/api/devices", response_model=list[DeviceInfo], tags=["devices"])
async def devices(service: Service, principal: CurrentPrincipal, response: Response,
                  station: str | None = Query(None, description="Only this station's devices"),
                  limit: int | None = Query(
                      None, ge=1, le=MAX_DEVICE_PAGE,
                      description="Page size (default: every device in one answer)"),
                  after: str | None = Query(
                      None, max_length=64, description="Page after this device id: the "
                      "X-Next-After header of the previous page")) -> list[dict[str, Any]]:
    await authorize(service, principal, "device.read")
    page = await service.devices(station or None, after=after or None, limit=limit)
    if limit is not None and len(page) == limit:  # maybe more: where the next page starts
        response.headers["X-Next-After"] = page[-1]["device_id"]
    return [d for d in page if in_scope(principal, d)]


@router.post("/api/devices/{device_id}/commands", response_model=CommandView,
             status_code=202, tags=["devices"], responses={403: {}, 404: {}, 422: {}})
async def send_command(service: Service, principal: CurrentPrincipal, device_id: str,
                       body: CommandBody) -> dict[str, Any]:
    """Store a command and publish it (QoS 1, never retained); the result comes later."""
    await authorize_device(service, principal, COMMAND_ACTIONS[body.name], device_id,
                           audit_allowed=True)
    try:
        command = await service.send_command(device_id, body.name, body.args,
                                             principal.username, body.ttl_s)
    except ValidationError as exc:
        raise HTTPException(422, f"command refused by the wire contract: {exc}") from None
    if command is None:
        raise HTTPException(404, f"device {device_id!r} is not registered")
    return command


@router.get("/api/devices/{device_id}/commands", response_model=list[CommandView],
            tags=["devices"], responses={403: {}, 404: {}})
async def list_commands(service: Service, principal: CurrentPrincipal, device_id: str,
                        limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
    await authorize_device(service, principal, "device.read", device_id)
    found = await service.commands(device_id, limit)
    if found is None:
        raise HTTPException(404, f"device {device_id!r} is not registered")
    return found


@router.get("/api/stations", response_model=list[StationInfo], tags=["registry"])
async def stations(service: Service, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """The stations of the user's part of the organisation."""
    await authorize(service, principal, "registry.read")
    return [s for s in await service.readers.run(registry.list_stations)
            if principal.sees_station(s["id"])]
