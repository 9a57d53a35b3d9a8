"""Device routes: the device board, remote commands; and the stations of the registry."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import ValidationError

from central import registry
from central.api.deps import Service, acting_officer
from central.api.models import CommandBody, CommandView, DeviceInfo, StationInfo

logger = logging.getLogger(__name__)

router = APIRouter()


@router.get("/api/devices", response_model=list[DeviceInfo], tags=["devices"])
async def devices(service: Service, station: str | None = Query(
        None, description="Only this station's devices")) -> list[dict[str, Any]]:
    return await service.devices(station or None)


@router.post("/api/devices/{device_id}/commands", response_model=CommandView,
             status_code=202, tags=["devices"], responses={404: {}, 422: {}})
async def send_command(request: Request, service: Service, device_id: str,
                       body: CommandBody) -> dict[str, Any]:
    """Store a command and publish it (QoS 1, never retained); the result comes later."""
    actor = acting_officer(request, body)
    try:
        command = await service.send_command(device_id, body.name, body.args, actor,
                                             body.ttl_s)
    except ValidationError as exc:
        raise HTTPException(422, f"command refused by the wire contract: {exc}") from None
    if command is None:
        raise HTTPException(404, f"device {device_id!r} is not registered")
    return command


@router.get("/api/devices/{device_id}/commands", response_model=list[CommandView],
            tags=["devices"], responses={404: {}})
async def list_commands(service: Service, device_id: str,
                        limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
    found = await service.commands(device_id, limit)
    if found is None:
        raise HTTPException(404, f"device {device_id!r} is not registered")
    return found


@router.get("/api/stations", response_model=list[StationInfo], tags=["registry"])
async def stations(service: Service) -> list[dict[str, Any]]:
    return await service.readers.run(registry.list_stations)
