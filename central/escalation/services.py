"""Notifying the fire brigade (119), medical services (120) and the village team from an
incident: the configured message through the configured channels, with the time and the
countdown (seconds left of ``notify_target_s`` since the first alarm event) recorded in
the incident's timeline. Runs on the writer.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from central import incidents
from central.db import iso, parse_iso, query_one, write_tx
from central.escalation import planner
from central.escalation.config import EscalationConfig

logger = logging.getLogger(__name__)

VILLAGE = "village"


class NotifyError(ValueError):
    """A service that is not configured, or a venue with nobody to tell."""


def countdown_s(db: Database, incident_id: int, target_s: float, now: datetime) -> float:
    """Seconds left of the target since the incident's first alarm event (negative: late)."""
    row = query_one(db, "SELECT MIN(e.ts) AS first FROM events e WHERE e.incident_id = ?",
                    [incident_id])
    inc = query_one(db, "SELECT opened_at FROM incidents WHERE id = ?", [incident_id])
    first = (row or {}).get("first") or (inc or {}).get("opened_at")
    if first is None:
        return target_s
    return round(target_s - (now - parse_iso(first)).total_seconds(), 1)


def notify(db: Database, config: EscalationConfig, incident_id: int, service: str,
           actor: str, now: datetime) -> dict[str, Any]:
    """Queue the notifications (once per service and number) and log the act."""
    with write_tx(db):
        incident = incidents.get_incident(db, incident_id)
        if incident is None:
            raise incidents.IncidentNotFound(f"incident {incident_id} does not exist")
        if service == VILLAGE:
            people = planner.recipients(db, incident, "village", now)
            channels = ["sms", "call"]
        elif service in config.services:
            cfg = config.services[service]
            people = [(service, number) for number in cfg.numbers]
            channels = list(cfg.channels)
        else:
            raise NotifyError(f"no service {service!r}: configure [escalation.services."
                              f"\"{service}\"] numbers in central's config")
        if not people:
            raise NotifyError(f"nobody to notify for {service} at venue {incident['venue_id']}")
        left = countdown_s(db, incident_id, config.notify_target_s, now)
        message = planner.message_for(incident, prefix=f"【{incident['station_name']}】")
        queued = sum(planner.queue(db, incident_id, f"service:{service}", name, phone, channel,
                                   message, now)
                     for name, phone in people for channel in channels)
        detail = {"service": service, "countdown_s": left, "queued": queued,
                  "numbers": [p for _, p in people]}
        incidents.log_action(db, incident_id, iso(now), actor, f"notify_{service}", detail)
    logger.info("incident %s: %s notified by %s (%s s left of the target)", incident_id,
                service, actor, left)
    return {"incident_id": incident_id, "at": iso(now), **detail}


def auto_fire(db: Database, config: EscalationConfig, now: datetime) -> list[int]:
    """Auto-notify 119 for open fire incidents whose events came from a GB 26875 panel."""
    if not config.auto_fire_119:
        return []
    rows = list(db.query(
        "SELECT DISTINCT i.id FROM incidents i JOIN events e ON e.incident_id = i.id "
        "WHERE i.category = 'alarm' AND i.status IN ('new', 'acknowledged', 'dispatched') "
        "AND e.kind = 'fire' AND e.state = 'alarm' AND e.test = 0 "
        "AND json_extract(e.detail, '$.protocol') = 'gb26875' "
        "AND NOT EXISTS (SELECT 1 FROM incident_log l "
        "WHERE l.incident_id = i.id AND l.action = 'notify_119')"))
    done = []
    for row in rows:
        try:
            notify(db, config, int(row["id"]), "119", "auto:gb26875", now)
            done.append(int(row["id"]))
        except NotifyError as exc:
            logger.error("auto 119 for incident %s impossible: %s", row["id"], exc)
    return done
