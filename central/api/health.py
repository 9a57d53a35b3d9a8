"""Operations routes: health (for monitoring and systemd checks) and the dead letters."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.models import DeadLetter, Health
from central.dead_letters import list_dead_letters

logger = logging.getLogger(__name__)

router = APIRouter()


@router.get("/api/dead-letters", response_model=list[DeadLetter], tags=["ingest"])
async def dead_letters(service: Service, principal: CurrentPrincipal,
                       limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    await authorize(service, principal, "dead_letter.read")
    return await service.readers.run(list_dead_letters, limit)


@router.get("/healthz", response_model=Health, tags=["ops"], responses={503: {"model": Health}})
async def healthz(service: Service) -> JSONResponse:
    health = await service.health()
    return JSONResponse(health, status_code=200 if health["ok"] else 503)
