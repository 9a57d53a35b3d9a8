"""HTTP routes for snapshots: the incident filmstrip, the JPEG files, live view requests.

- ``GET /api/incidents/{id}/snapshots[?since_id=N]``: the incident's frames in
  frame-time order (phase, time, camera, size, ``url``) and ``live_until``.
- ``GET /api/snapshots/{id or sha256}.jpg``: one frame, ``image/jpeg``.
- ``POST /api/incidents/{id}/snapshots/live`` ``{"actor", "live_s", "fps"}``,
  ``.../now`` ``{"actor"}``, ``.../stop`` ``{"actor"}``: see
  :mod:`central.snapshot_control`.

Who may see pictures is decided in ONE place, :func:`may_view_snapshots`; who
acts comes from the same ``acting_officer`` seam as the incident actions.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import Field
from sqlite_utils import Database

from central import incidents
from central.api.deps import Service, acting_officer
from central.api.models import MAX_DB_INT, ActionBody, IncidentId
from central.snapshot_control import Action, SnapshotRequestError
from central.snapshots import find_snapshot, incident_snapshots

logger = logging.getLogger(__name__)

router = APIRouter(tags=["snapshots"])


class LiveBody(ActionBody):
    live_s: int = Field(60, ge=1, le=3600, description="How long (central and the device "
                                                       "clamp it to their limits).")
    fps: float = Field(1.0, gt=0, le=30, description="Frames a second (clamped likewise).")


def may_view_snapshots(request: Request, incident: dict[str, Any]) -> None:
    """Whether this request may see the incident's pictures. The ONE place that decides it.

    Today every console may (login comes later). With login this checks that
    the officer's station is ``incident["station_id"]`` (or a leader's or the
    county's role) and raises ``HTTPException(403)`` otherwise.
    """
    del request, incident


def _filmstrip(db: Database, incident_id: int,
               since_id: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    incident = incidents.get_incident(db, incident_id)
    if incident is None:
        return None, []
    return incident, incident_snapshots(db, incident_id, since_id=since_id)


@router.get("/api/incidents/{incident_id}/snapshots", responses={404: {}})
async def list_snapshots(request: Request, service: Service, incident_id: IncidentId,
                         since_id: int = Query(0, ge=0, le=MAX_DB_INT)) -> dict[str, Any]:
    incident, frames = await service.readers.run(_filmstrip, incident_id, since_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    may_view_snapshots(request, incident)
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
async def snapshot_file(request: Request, service: Service, ref: str) -> FileResponse:
    frame, incident = await service.readers.run(_frame, ref)
    if frame is None:
        raise HTTPException(404, f"no snapshot {ref[:80]!r}")
    may_view_snapshots(request, incident or {"station_id": None})
    path = service.snapshot_files.path(frame["sha256"])
    if not path.exists():
        logger.error("snapshot %s: file %s is missing", frame["id"], path)
        raise HTTPException(404, f"snapshot {frame['id']} file is missing")
    return FileResponse(path, media_type="image/jpeg", headers={
        "Cache-Control": "private, max-age=31536000, immutable"})


async def _send(request: Request, service: Service, incident_id: int, action: Action,
                body: ActionBody, **kwargs: Any) -> dict[str, Any]:
    actor = acting_officer(request, body)
    try:
        return await service.writer.run(service.snapshot_control.request, incident_id, action,
                                         actor, **kwargs)
    except SnapshotRequestError as exc:
        raise HTTPException(exc.status, str(exc)) from None


@router.post("/api/incidents/{incident_id}/snapshots/live", responses={404: {}, 409: {}})
async def live_view(request: Request, service: Service, incident_id: IncidentId,
                    body: LiveBody) -> dict[str, Any]:
    return await _send(request, service, incident_id, "live", body, live_s=body.live_s,
                       fps=body.fps)


@router.post("/api/incidents/{incident_id}/snapshots/now",
             responses={404: {}, 409: {}, 429: {}})
async def snapshot_now(request: Request, service: Service, incident_id: IncidentId,
                       body: ActionBody) -> dict[str, Any]:
    return await _send(request, service, incident_id, "now", body)


@router.post("/api/incidents/{incident_id}/snapshots/stop", responses={404: {}})
async def stop_live(request: Request, service: Service, incident_id: IncidentId,
                    body: ActionBody) -> dict[str, Any]:
    return await _send(request, service, incident_id, "stop", body)
