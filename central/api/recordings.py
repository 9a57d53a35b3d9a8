"""HTTP routes for the recordings of live sessions (central/recordings.py).

- ``GET /api/incidents/{id}/recordings``: the incident's recordings, complete or
  partial (a partial one has ``url`` null and says how many chunks arrived).
- ``GET /api/av/recordings/{session_id}``: the file of a complete recording
  (``video/webm``), with its SHA-256 in ``X-Content-SHA256``; byte ranges allowed, so
  the console's player can seek. 409 while the upload is partial.

Both need ``snapshot.read`` for the incident's station and venue (another station's
officer gets 403, audited). Every playback is in the audit log (``av.recording.read``).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from sqlite_utils import Database

from central import audit, incidents
from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.incidents import authorize_incident
from central.api.models import IncidentId
from central.recordings import find_recording, incident_recordings

logger = logging.getLogger(__name__)

router = APIRouter(tags=["live audio/video"])


def _listing(db: Database, incident_id: int) -> tuple[dict[str, Any] | None,
                                                      list[dict[str, Any]]]:
    incident = incidents.get_incident(db, incident_id)
    if incident is None:
        return None, []
    return incident, incident_recordings(db, incident_id)


@router.get("/api/incidents/{incident_id}/recordings", responses={403: {}, 404: {}})
async def list_recordings(service: Service, principal: CurrentPrincipal,
                          incident_id: IncidentId) -> dict[str, Any]:
    await authorize(service, principal, "snapshot.read", obj=f"incident:{incident_id}")
    incident, rows = await service.readers.run(_listing, incident_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    await authorize_incident(service, principal, "snapshot.read", incident)
    return {"incident_id": incident_id, "recordings": rows}


@router.get("/api/av/recordings/{session_id}", response_class=FileResponse,
            responses={200: {"content": {"video/webm": {}}}, 403: {}, 404: {}, 409: {}})
async def recording_file(service: Service, principal: CurrentPrincipal,
                         session_id: str) -> FileResponse:
    await authorize(service, principal, "snapshot.read", obj=f"av:{session_id[:32]}")
    row = await service.readers.run(find_recording, session_id[:64])
    if row is None:
        raise HTTPException(404, f"no recording of session {session_id[:32]!r}")
    await authorize_incident(service, principal, "snapshot.read",
                             {"id": row["incident_id"], "station_id": row["station_id"],
                              "venue_id": row["venue_id"]})
    if row["state"] != "complete":
        raise HTTPException(409, f"the recording of session {session_id[:32]} is "
                                 f"{row['state']} ({row['received']} of {row['chunks']} "
                                 f"chunks){': ' + row['reason'] if row['reason'] else ''}")
    path = service.ingestor.recording_files.path(row["sha256"])
    if not path.exists():
        logger.error("recording %s: file %s is missing", session_id, path)
        raise HTTPException(404, f"the file of recording {session_id[:32]} is missing")
    await service.writer.run(audit.append, audit.Entry(
        principal.username, principal.role, principal.source, "av.recording.read",
        f"incident:{row['incident_id']}", "allowed",
        {"session_id": row["session_id"], "sha256": row["sha256"]}))
    return FileResponse(path, media_type=row["media_type"], headers={
        "Cache-Control": "private, max-age=31536000, immutable",
        "X-Content-SHA256": row["sha256"]})
