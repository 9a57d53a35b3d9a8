"""A venue asks to talk (issue 18): the agent's ``talk_request`` signal on ``rtc/reply``.

Central puts it on the venue's open alarm's timeline (``incident_log`` action
``talk_request``, actor ``device:<id>``, detail ``{device_id, zone, request_id}``) and,
after the commit, pushes ``{"type": "talk_request", "incident_id", "device_id", "zone",
"at"}`` to the consoles that see the venue; they show "venue requests talk" on the
incident. A request repeated by MQTT (QoS 1) is logged once. Without an open alarm at the
venue there is no incident to put it on: it goes to the dead letters with that reason
(raise the alarm first; the talk button alone calls no one).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from alarmlink import wire
from central import incidents
from central.db import iso, query_one

logger = logging.getLogger(__name__)


def record(db: Database, route: dict[str, Any], signal: wire.RtcSignal,
           now: datetime) -> dict[str, Any] | None:
    """Log the request on the venue's open alarm; the console push, or None (no alarm)."""
    incident = incidents.find_open(db, route["venue_id"], "alarm")
    if incident is None:
        return None
    device_id = route["device_id"]
    detail = {"device_id": device_id, "zone": signal.zone or "",
              "request_id": signal.session_id}
    seen = query_one(db, "SELECT 1 FROM incident_log WHERE incident_id = ? AND action = "
                         "'talk_request' AND detail LIKE ?",
                     [incident["id"], f'%"request_id": {json.dumps(signal.session_id)}%'])
    at = iso(now)
    if seen is None:
        incidents.log_action(db, incident["id"], at, f"device:{device_id}", "talk_request",
                             detail)
        logger.info("venue %s asks to talk (device %s, zone %s, incident %s)",
                    route["venue_id"], device_id, signal.zone, incident["id"])
    return {"type": "talk_request", "incident_id": incident["id"], "device_id": device_id,
            "zone": signal.zone or "", "at": at, "station_id": route["station_id"],
            "venue_id": route["venue_id"]}
