"""Troubles only (a cut loop, mains power, a lost device): the cooldown and quiet hours of
``[escalation]``. Alarms (fire, smoke, heat, panic, medical) never pass through here: they
are never suppressed, delayed or rate-limited.

* **cooldown** (``trouble_cooldown_s``): a trouble incident of a venue whose previous
  trouble escalation started less than this long ago is not escalated; its escalation row
  is stored stopped with the reason ``cooldown``, and the incident's log says so. The
  console still shows the incident.
* **quiet hours** (``quiet_hours = "22:00-07:00"``, in ``timezone``): a trouble escalation
  whose first stage falls in the quiet hours starts at their end.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlite_utils import Database

from central.audit_config import zone_info
from central.db import iso, query_one
from central.escalation.config import EscalationConfig


def in_cooldown(db: Database, config: EscalationConfig, venue_id: str, incident_id: int,
                opened_at: datetime) -> bool:
    """True when another trouble of the venue escalated within the cooldown."""
    if config.trouble_cooldown_s <= 0:
        return False
    since = iso(opened_at - timedelta(seconds=config.trouble_cooldown_s))
    row = query_one(db, "SELECT 1 FROM escalations e JOIN incidents i ON i.id = e.incident_id "
                        "WHERE i.venue_id = ? AND i.category = 'trouble' AND i.id != ? AND "
                        "e.started_at >= ? AND (e.stopped_reason IS NULL OR "
                        "e.stopped_reason != 'cooldown') LIMIT 1",
                    [venue_id, incident_id, since])
    return row is not None


def after_quiet_hours(config: EscalationConfig, moment: datetime) -> datetime:
    """``moment``, or the end of the quiet hours it falls in."""
    if not config.quiet_hours:
        return moment
    start_s, end_s = config.quiet_hours.split("-")
    start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
    local = moment.astimezone(zone_info(config.timezone))
    now_t = local.time()
    quiet = (start <= now_t < end) if start <= end else (now_t >= start or now_t < end)
    if not quiet or start == end:
        return moment
    end_at = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if end_at <= local:
        end_at += timedelta(days=1)
    return end_at.astimezone(moment.tzinfo)
