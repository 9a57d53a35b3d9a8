"""A venue asks to talk (issue 18): the agent's ``talk_request`` signal on ``rtc/reply``.

Central puts it on the venue's open alarm's timeline (``incident_log`` action
``talk_request``, actor ``device:<id>``, detail ``{device_id, zone, request_id}``), adds
``talk_request`` to its kinds and, if an officer acknowledged it already, flags it
``new_since_ack`` so the consoles sound again. With
no alarm open at the venue (a separate talk button pressed on its own), it opens one:
an ``alarm`` incident of kind ``talk_request`` (请求通话) routed to the venue's station
like any alarm, so it is in that station's queue; the zone pressed shows as ``talk``,
and its ``first_event_id`` is the request's ULID (there is no event: the camera's still
frames of the filmstrip come only with an alarm; the live video works).
A later alarm at the venue joins that incident.

Every request is in the audit chain (``av.talk_request``, by ``device:<id>``). After the
commit the consoles that see the venue get ``{"type": "talk_request", "incident_id",
"device_id", "zone", "at"}`` (they show "venue requests talk" with an answer button),
and the device gets ``talk_received`` (its talk LED and buzzer tell the venue the
request arrived). A request repeated by MQTT (QoS 1) is logged, audited and opens an
incident once; it is answered again.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from alarmlink import wire
from central import audit, incidents
from central.db import iso, query_one

logger = logging.getLogger(__name__)

KIND = "talk_request"
#: The state shown for the pressed zone of an incident a talk request opened.
ZONE_STATE = "talk"


def _already(db: Database, venue_id: str, request_id: str) -> int | None:
    """The incident a request with this id was logged on already (a QoS 1 repeat)."""
    row = query_one(db, "SELECT l.incident_id FROM incident_log l JOIN incidents i ON "
                        "i.id = l.incident_id WHERE i.venue_id = ? AND l.action = "
                        "'talk_request' AND l.detail LIKE ? ORDER BY l.id DESC LIMIT 1",
                    [venue_id, f'%"request_id": {json.dumps(request_id)}%'])
    return None if row is None else int(row["incident_id"])


def record(db: Database, route: dict[str, Any], signal: wire.RtcSignal,
           now: datetime) -> dict[str, Any]:
    """Log the request on the venue's open alarm, or open one; the console push.

    Runs inside the caller's transaction (the ingest batch's). The push's
    ``opened`` is True when this request opened the incident.
    """
    device_id, venue_id = route["device_id"], route["venue_id"]
    zone = signal.zone or ""
    at = iso(now)
    detail = {"device_id": device_id, "zone": zone, "request_id": signal.session_id}
    opened = False
    incident_id = _already(db, venue_id, signal.session_id)
    if incident_id is None:
        incident = incidents.find_open(db, venue_id, "alarm")
        if incident is None:
            incident_id = incidents.create(
                db, category="alarm", venue_id=venue_id, station_id=route["station_id"],
                kind=KIND, zones={zone: ZONE_STATE}, first_event_id=signal.session_id,
                event_count=0, at=at)
            incidents.log_action(db, incident_id, at, incidents.SYSTEM_ACTOR, "opened",
                                 {**detail, "kind": KIND, "station_id": route["station_id"]})
            opened = True
            logger.info("incident %s opened (talk request) at venue %s for station %s",
                        incident_id, venue_id, route["station_id"])
        else:
            incident_id = int(incident["id"])
            kinds = incident["kinds"] if KIND in incident["kinds"] else [*incident["kinds"], KIND]
            # an officer saw it before: the consoles sound again (re-alert)
            db.execute("UPDATE incidents SET kinds = ?, new_since_ack = CASE WHEN status = "
                       "'new' THEN new_since_ack ELSE 1 END WHERE id = ?",
                       [json.dumps(kinds), incident_id])
        incidents.log_action(db, incident_id, at, f"device:{device_id}", "talk_request",
                             detail)
        db.execute("UPDATE incidents SET updated_at = ?, version = version + 1 WHERE id = ?",
                   [at, incident_id])
        audit.append(db, audit.Entry(f"device:{device_id}", "device", "mqtt",
                                     "av.talk_request", f"incident:{incident_id}", "allowed",
                                     {**detail, "opened": opened}), at=now)
        logger.info("venue %s asks to talk (device %s, zone %s, incident %s)", venue_id,
                    device_id, zone, incident_id)
    return {"type": "talk_request", "incident_id": incident_id, "device_id": device_id,
            "zone": zone, "at": at, "station_id": route["station_id"], "venue_id": venue_id,
            "opened": opened}


def received(signal: wire.RtcSignal, incident_id: int) -> wire.RtcSignal:
    """The ``talk_received`` answer to the device for ``signal``."""
    return wire.RtcSignal(session_id=signal.session_id, kind=wire.RtcKind.TALK_RECEIVED,
                          ts=wire.utcnow(), incident_id=incident_id, zone=signal.zone)
