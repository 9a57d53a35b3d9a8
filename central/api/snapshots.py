"""HTTP routes for snapshots: the incident filmstrip, the JPEG files, live view requests.

- ``GET /api/incidents/{id}/snapshots[?since_id=N]``: the incident's frames in
  frame-time order (phase, time, camera, size, ``url``) and ``live_until``.
- ``GET /api/snapshots/{id or sha256}.jpg``: one frame, ``image/jpeg``.
- ``POST /api/incidents/{id}/snapshots/live`` ``{"live_s", "fps"}``,
  ``.../now`` ``{}``, ``.../stop`` ``{}``: see :mod:`central.snapshot_control`.

Who may see pictures: ``snapshot.read`` for the incident's station (and venue),
checked by :func:`central.api.incidents.authorize_incident`; live view and
"picture now" need ``snapshot.live``. The acting user is the session's.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import Field
from sqlite_utils import Database

from central import incidents
from central.api.deps import CurrentPrincipal, Service, authorize, denied
from central.api.incidents import authorize_incident
from central.api.models import MAX_DB_INT, ActionBody, IncidentId
from central.snapshot_control import Action, SnapshotRequestError
from central.snapshots import find_snapshot, incident_snapshots

logger = logging.getLogger(__name__)

router = APIRouter(tags=["snapshots"])


class LiveBody(ActionBody):
    live_s: int = Field(60, ge=1, le=3600, description="How long (central and the device "
                                                       "clamp it to their limits).")
    fps: float = Field(1.0, gt=0, le=30, description="Frames a second (clamped likewise).")


def _filmstrip(db: Database, incident_id: int,
               since_id: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    incident = incidents.get_incident(db, incident_id)
    if incident is None:
        return None, []
    return incident, incident_snapshots(db, incident_id, since_id=since_id)


@router.get("/api/incidents/{incident_id}/snapshots", responses={404: {}})
async def list_snapshots(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                         since_id: int = Query(0, ge=0, le=MAX_DB_INT)) -> dict[str, Any]:
    await authorize(service, principal, "snapshot.read", obj=f"incident:{incident_id}")
    incident, frames = await service.readers.run(_filmstrip, incident_id, since_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    await authorize_incident(service, principal, "snapshot.read", incident)
    return {"incident_id": incident_id, "open": incident["open"],
            "live_until": service.snapshot_control.live_state(incident_id),
            "snapshots": frames}


def _frame(db: Database, ref: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    frame = find_snapshot(db, ref)
    if frame is None or frame["incident_id"] is None:
        return frame, None
    return frame, incidents.get_incident(db, frame["incident_id"])


@router.get("/api/snapshots/{ref}.jpg", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}}}, 404: {}})
async def snapshot_file(service: Service, principal: CurrentPrincipal,
                        ref: str) -> FileResponse:
    await authorize(service, principal, "snapshot.read", obj=f"snapshot:{ref[:80]}")
    frame, incident = await service.readers.run(_frame, ref)
    if frame is None:
        raise HTTPException(404, f"no snapshot {ref[:80]!r}")
    if incident is None:  # a frame of no incident: only users who see every station
        if principal.stations is not None:
            raise await denied(service, principal, "snapshot.read", f"snapshot:{frame['id']}",
                               "this picture belongs to no incident of your part of the "
                               "organisation")
    else:
        await authorize_incident(service, principal, "snapshot.read", incident)
    path = service.snapshot_files.path(frame["sha256"])
    if not path.exists():
        logger.error("snapshot %s: file %s is missing", frame["id"], path)
        raise HTTPException(404, f"snapshot {frame['id']} file is missing")
    return FileResponse(path, media_type="image/jpeg", headers={
        "Cache-Control": "private, max-age=31536000, immutable"})


async def _send(service: Service, principal: CurrentPrincipal, incident_id: int,
                action: Action, body: ActionBody, **kwargs: Any) -> dict[str, Any]:
    del body  # nothing but an optional note, not used by snapshot requests
    await authorize(service, principal, "snapshot.live", obj=f"incident:{incident_id}")
    incident = await service.readers.run(incidents.get_incident, incident_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    await authorize_incident(service, principal, "snapshot.live", incident, audit_allowed=True)
    try:
        return await service.writer.run(service.snapshot_control.request, incident_id, action,
                                         principal.username, **kwargs)
    except SnapshotRequestError as exc:
        raise HTTPException(exc.status, str(exc)) from None


@router.post("/api/incidents/{incident_id}/snapshots/live", responses={403: {}, 404: {}, 409: {}})
async def live_view(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                    body: LiveBody) -> dict[str, Any]:
    return await _send(service, principal, incident_id, "live", body, live_s=body.live_s,
                       fps=body.fps)


@router.post("/api/incidents/{incident_id}/snapshots/now",
             responses={403: {}, 404: {}, 409: {}, 429: {}})
async def snapshot_now(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                       body: ActionBody) -> dict[str, Any]:
    return await _send(service, principal, incident_id, "now", body)


@router.post("/api/incidents/{incident_id}/snapshots/stop", responses={403: {}, 404: {}})
async def stop_live(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                    body: ActionBody) -> dict[str, Any]:
    return await _send(service, principal, incident_id, "stop", body)
