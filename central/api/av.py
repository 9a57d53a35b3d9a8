"""HTTP routes for live audio/video sessions (WebRTC signalling relay, central/av.py).

- ``POST /api/incidents/{id}/av`` ``{"sdp": offer}``: relays the console's offer (ICE
  gathered) to the device that raised the incident (or asked to talk), with the venue's
  registry caps (``av_max_kbps``, ``av_max_height``); answers ``{"session_id", "sdp",
  "device_id"}`` with the agent's answer. 403 outside the officer's scope (audited,
  and nothing is sent to the device), 504 when the device does not answer.
- ``POST /api/av/{session_id}/close`` ``{}``: ends the session (404 when it has already
  ended: the device's ``bye`` or the incident's resolution recorded that end).

Both need ``snapshot.live`` for the incident's station and venue and are audited. Each
open and close is in the incident's timeline (``av_open`` / ``av_close``: with the
officer, the device or whoever resolved the incident, and the reason).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import Field
from sqlite_utils import Database

from alarmlink import wire
from central import incidents
from central.api.deps import CurrentPrincipal, Service, authorize
from central.api.incidents import authorize_incident
from central.api.models import ActionBody, IncidentId
from central.av import AvError, log_close
from central.db import iso, query_one

router = APIRouter(tags=["live audio/video"])


class OfferBody(ActionBody):
    sdp: str = Field(min_length=10, max_length=wire.MAX_SDP,
                     description="The console's SDP offer with its ICE candidates gathered.")


def _incident_device(db: Database, incident_id: int
                     ) -> tuple[dict[str, Any] | None, str | None, dict[str, int]]:
    """The incident, the device to call (the first event's, or the device that asked to
    talk) and the venue's caps from the registry (``max_kbps``, ``max_height``)."""
    incident = incidents.get_incident(db, incident_id)
    if incident is None:
        return None, None, {}
    row = query_one(db, "SELECT device_id FROM events WHERE incident_id = ? "
                        "ORDER BY received_at, seq LIMIT 1", [incident_id])
    device_id = None if row is None else str(row["device_id"])
    if device_id is None:   # opened by a talk request (central/talk.py)
        row = query_one(db, "SELECT detail FROM incident_log WHERE incident_id = ? AND "
                            "action = 'talk_request' ORDER BY id LIMIT 1", [incident_id])
        device_id = None if row is None else json.loads(row["detail"]).get("device_id")
    caps = query_one(db, "SELECT av_max_kbps, av_max_height FROM venues WHERE id = ?",
                     [incident["venue_id"]]) or {}
    return incident, device_id, {k: int(v) for k, v in (
        ("max_kbps", caps.get("av_max_kbps")), ("max_height", caps.get("av_max_height")))
        if v is not None}


def _log(db: Database, incident_id: int, actor: str, action: str,
         detail: dict[str, Any]) -> None:
    incidents.log_action(db, incident_id, iso(wire.utcnow()), actor, action, detail)


@router.post("/api/incidents/{incident_id}/av", responses={403: {}, 404: {}, 409: {},
                                                           502: {}, 504: {}})
async def open_av(service: Service, principal: CurrentPrincipal, incident_id: IncidentId,
                  body: OfferBody) -> dict[str, Any]:
    await authorize(service, principal, "snapshot.live", obj=f"incident:{incident_id}")
    incident, device_id, caps = await service.readers.run(_incident_device, incident_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    await authorize_incident(service, principal, "snapshot.live", incident, audit_allowed=True)
    if not incident["open"]:
        raise HTTPException(409, f"incident {incident_id} is resolved: no live session")
    if device_id is None:
        raise HTTPException(409, f"incident {incident_id} has no device to call")
    try:
        session, answer = await service.av.open(incident, device_id, principal.username,
                                                body.sdp, **caps)
    except AvError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    await service.writer.run(_log, incident_id, principal.username, "av_open",
                             {"session_id": session.session_id, "device_id": device_id})
    return {"session_id": session.session_id, "sdp": answer, "device_id": device_id}


@router.post("/api/av/{session_id}/close", responses={403: {}, 404: {}})
async def close_av(service: Service, principal: CurrentPrincipal, session_id: str,
                   body: ActionBody) -> dict[str, Any]:
    del body
    await authorize(service, principal, "snapshot.live", obj=f"av:{session_id[:32]}")
    session = service.av.sessions.get(session_id)
    if session is None:
        raise HTTPException(404, f"no open live session {session_id[:32]!r}")
    await authorize_incident(service, principal, "snapshot.live",
                             {"id": session.incident_id, "station_id": session.station_id,
                              "venue_id": session.venue_id}, audit_allowed=True)
    reason = f"closed by {principal.username}"
    if service.av.close(session_id, reason) is None:   # the device ended it meanwhile
        raise HTTPException(404, f"no open live session {session_id[:32]!r}")
    await service.writer.run(log_close, session, principal.username, reason)
    return {"session_id": session_id, "closed": True}
