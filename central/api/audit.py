"""Audit trail routes: the log filtered, and one incident's audit rows.

Reads only (the chain is written by :func:`central.audit.append` on the writer).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from central import audit, incidents
from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.incidents import authorize_incident
from central.api.models import IncidentId

logger = logging.getLogger(__name__)

router = APIRouter(tags=["audit"])


@router.get("/api/audit")
async def list_audit(
    service: Service,
    principal: CurrentPrincipal,
    object: str | None = Query(None, max_length=200,  # noqa: A002 - the column's name
                               description="Only rows about this object, e.g. incident:12"),
    username: str | None = Query(None, max_length=120, description="Only this user's acts"),
    since: Annotated[datetime | None, Query(description="Only rows written at or after this "
                                            "time (ISO 8601 with a zone)")] = None,
    limit: int = Query(200, ge=1, le=audit.LIST_LIMIT_MAX),
) -> list[dict[str, Any]]:
    """Audit rows, newest first (every column, ``detail`` decoded)."""
    await authorize(service, principal, "audit.read", obj="audit")
    if since is not None and since.tzinfo is None:
        raise HTTPException(422, "since: give a time zone, e.g. 2026-11-01T00:00:00+08:00")
    return await service.readers.run(audit.list_entries, object=object, username=username,
                                     since=since, limit=limit)


@router.get("/api/incidents/{incident_id}/audit", responses={403: {}, 404: {}})
async def incident_audit(service: Service, principal: CurrentPrincipal,
                         incident_id: IncidentId,
                         limit: int = Query(200, ge=1, le=audit.LIST_LIMIT_MAX)
                         ) -> list[dict[str, Any]]:
    """Who did what to one incident (allowed and denied), newest first: for whoever
    may read the incident (the incident page shows it)."""
    await authorize(service, principal, "incident.read", obj=f"incident:{incident_id}")
    incident = await service.readers.run(incidents.get_incident, incident_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} not found")
    await authorize_incident(service, principal, "incident.read", incident)
    return await service.readers.run(audit.list_entries, object=f"incident:{incident_id}",
                                     limit=limit)
