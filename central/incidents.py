"""Incidents: alarm events of one venue grouped, routed to the venue's station.

Rules (docs/architecture.md):

* an alarm event (state ``alarm``, kind not ``trouble``/``power``) opens an
  ``alarm`` incident for its venue, or joins the venue's open one;
* a trouble (state ``trouble``, or kind ``trouble``/``power``) opens or joins
  a separate ``trouble`` incident: trouble is kept apart from alarm;
* a restore marks its zone restored in the open incident holding that zone and
  never opens an incident;
* test events (``test`` true, or kind ``test``) never open or join an incident.

Lifecycle: new -> acknowledged -> dispatched -> resolved (with an outcome) ->
closed. Every transition is written to ``incident_log`` with who and when.

Re-alert: an alarm or trouble event that joins an incident an officer has already
acknowledged (or dispatched) sets ``new_since_ack``; the consoles sound again and
the incident may (and should) be acknowledged again, which clears the flag. An
event's "acknowledged" (or "dispatched") receipt goes to the venue only once an
officer acknowledged the incident after that event arrived (``events.acknowledged``),
so the venue's LED never says "acknowledged" for a press no officer has seen.
At most one open incident per venue and category (a partial unique index).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from alarmlink.wire import Event, Kind, Outcome, Receipt, Stage, State
from central.db import OPEN_STATUSES, iso, query_one, write_tx
from central.ingest_bulk import PendingWrites

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
Category = Literal["alarm", "trouble"]
Role = Literal["test", "alarm", "trouble", "restore"]
Action = Literal["acknowledge", "dispatch", "resolve", "close"]

#: action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": (("new",), "acknowledged"),
    "dispatch": (("new", "acknowledged"), "dispatched"),
    "resolve": (OPEN_STATUSES, "resolved"),
    "close": (("resolved",), "closed"),
}
STAGE_OF_STATUS = {"acknowledged": Stage.ACKNOWLEDGED, "dispatched": Stage.DISPATCHED,
                   "resolved": Stage.RESOLVED, "closed": Stage.RESOLVED}
_OPEN_SQL = "status IN ('new', 'acknowledged', 'dispatched')"


class IncidentNotFound(LookupError):
    """No incident with that id."""


class TransitionError(ValueError):
    """The incident is not in a state that allows the requested action."""


def role_of(event: Event) -> Role:
    """What an event does to incidents."""
    if event.test or event.kind == Kind.TEST:
        return "test"
    if event.state == State.RESTORE:
        return "restore"
    if event.state == State.TROUBLE or event.kind in (Kind.TROUBLE, Kind.POWER):
        return "trouble"
    return "alarm"


def log_action(db: Database, incident_id: int, at: str, actor: str, action: str,
               detail: dict[str, Any]) -> None:
    """One ``incident_log`` entry: who did what to the incident, and when."""
    db.execute("INSERT INTO incident_log (incident_id, at, actor, action, detail) "
               "VALUES (?, ?, ?, ?, ?)", [incident_id, at, actor, action, json.dumps(detail)])


def find_open(db: Database, venue_id: str, category: Category) -> dict[str, Any] | None:
    """The venue's open incident of ``category`` as ``{id, kinds, zones}`` (parsed), or None."""
    row = query_one(db, f"SELECT id, status, kinds, zones FROM incidents WHERE venue_id = ? "
                        f"AND category = ? AND {_OPEN_SQL}", [venue_id, category])
    if row is None:
        return None
    return {"id": int(row["id"]), "status": row["status"], "kinds": json.loads(row["kinds"]),
            "zones": json.loads(row["zones"])}


def create(db: Database, *, category: Category, venue_id: str, station_id: str, kind: str,
           zones: dict[str, str], first_event_id: str, event_count: int, at: str) -> int:
    """Insert a ``new`` incident (inside the caller's transaction); returns its id."""
    cursor = db.execute(
        "INSERT INTO incidents (category, venue_id, station_id, status, kind, kinds, zones, "
        "first_event_id, event_count, opened_at, updated_at, last_event_at) "
        "VALUES (?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?)",
        [category, venue_id, station_id, kind, json.dumps([kind]), json.dumps(zones),
         first_event_id, event_count, at, at, at])
    return int(cursor.lastrowid or 0)


def raise_trouble(db: Database, *, venue_id: str, station_id: str, kind: str, zone: str,
                  label: str, first_event_id: str, at: str) -> tuple[int, str]:
    """Open the venue's trouble incident with ``zone`` at ``label``, or join the open one
    (adding ``kind``). Returns ``(incident id, "opened" | "joined")``."""
    found = find_open(db, venue_id, "trouble")
    if found is None:
        incident_id = create(db, category="trouble", venue_id=venue_id, station_id=station_id,
                             kind=kind, zones={zone: label}, first_event_id=first_event_id,
                             event_count=0, at=at)
        return incident_id, "opened"
    incident_id, kinds, zones = found["id"], found["kinds"], found["zones"]
    if kind not in kinds:
        kinds.append(kind)
    zones[zone] = label
    record_change(db, incident_id, at, zones=zones, kinds=kinds, counts_event=False)
    return incident_id, "joined"


def record_change(db: Database, incident_id: int, at: str, *, zones: dict[str, str],
                  kinds: list[str] | None = None, counts_event: bool) -> None:
    """Store new zones (and kinds), touch the times and bump ``version``.

    ``counts_event``: the change comes from a device event (``event_count`` grows).
    """
    sets = ["zones = ?"]
    params: list[Any] = [json.dumps(zones)]
    if kinds is not None:
        sets.append("kinds = ?")
        params.append(json.dumps(kinds))
    if counts_event:
        sets.append("event_count = event_count + 1")
    db.execute(f"UPDATE incidents SET {', '.join(sets)}, updated_at = ?, last_event_at = ?, "
               "version = version + 1 WHERE id = ?", [*params, at, at, incident_id])


#: (venue_id, category) -> the open incident as :func:`find_open` returns it (or None).
OpenCache = dict[tuple[str, str], "dict[str, Any] | None"]


def attach_event(db: Database, event: Event, venue_id: str, station_id: str,
                 now: datetime, open_cache: OpenCache | None = None,
                 pending: PendingWrites | None = None) -> int | None:
    """Open, join or update the incident ``event`` belongs to; return its id or None.

    Runs inside the caller's transaction (the one that stores the event).
    ``open_cache``: ingest's per-batch memo of the venues' open incidents (only ingest
    changes them while a batch runs; it is dropped after the batch). ``pending``: ingest's
    batch writes (central/ingest_bulk.py): a joined incident's change and its log entry
    wait there and are written once per batch.
    """
    role = role_of(event)
    if role == "test":
        return None
    at = iso(now)
    kind = event.kind.value
    detail: dict[str, Any] = {"event_id": event.event_id, "kind": kind, "zone": event.zone,
                              "state": event.state.value}
    if role == "restore":
        if open_cache is not None:  # a restore edits zones: read them again afterwards
            open_cache.pop((venue_id, "alarm"), None)
            open_cache.pop((venue_id, "trouble"), None)
        return _restore(db, event, venue_id, at, detail)
    category: Category = "alarm" if role == "alarm" else "trouble"
    zone_state = "alarm" if category == "alarm" else "trouble"
    if open_cache is not None and (venue_id, category) in open_cache:
        found = open_cache[(venue_id, category)]
    else:
        found = find_open(db, venue_id, category)
        if open_cache is not None:
            open_cache[(venue_id, category)] = found
    if found is None:
        incident_id = create(db, category=category, venue_id=venue_id, station_id=station_id,
                             kind=kind, zones={event.zone: zone_state},
                             first_event_id=event.event_id, event_count=1, at=at)
        log_action(db, incident_id, at, SYSTEM_ACTOR, "opened",
                   {**detail, "station_id": station_id})
        logger.info("incident %s opened (%s) at venue %s for station %s by event %s",
                    incident_id, category, venue_id, station_id, event.event_id)
        if open_cache is not None:
            open_cache[(venue_id, category)] = {"id": incident_id, "status": "new",
                                                "kinds": [kind],
                                                "zones": {event.zone: zone_state}}
        return incident_id
    kinds, zones = found["kinds"], found["zones"]
    if kind not in kinds:
        kinds.append(kind)
    zones[event.zone] = zone_state
    if pending is None:
        record_change(db, found["id"], at, zones=zones, kinds=kinds, counts_event=True)
    if found["status"] != "new":  # seen by an officer before: this event is not
        db.execute("UPDATE incidents SET new_since_ack = 1 WHERE id = ?", [found["id"]])
        detail["after_acknowledgement"] = True
        logger.info("incident %s (%s): new event %s after acknowledgement", found["id"],
                    found["status"], event.event_id)
    if pending is None:
        log_action(db, found["id"], at, SYSTEM_ACTOR, "event", detail)
    else:
        pending.joined(int(found["id"]), at, zones, kinds, detail)
    return int(found["id"])


def _restore(db: Database, event: Event, venue_id: str, at: str,
             detail: dict[str, Any]) -> int | None:
    preferred = "trouble" if event.kind in (Kind.TROUBLE, Kind.POWER) else "alarm"
    rows = db.query(
        f"SELECT id, category, zones FROM incidents WHERE venue_id = ? AND {_OPEN_SQL}",
        [venue_id])
    candidates = [{**r, "zones": json.loads(r["zones"])} for r in rows]
    candidates = [r for r in candidates if event.zone in r["zones"]]
    if not candidates:
        return None
    candidates.sort(key=lambda r: r["category"] != preferred)
    chosen = candidates[0]
    zones = chosen["zones"]
    zones[event.zone] = "restored"
    record_change(db, chosen["id"], at, zones=zones, counts_event=True)
    log_action(db, chosen["id"], at, SYSTEM_ACTOR, "restored", detail)
    return int(chosen["id"])


@dataclass(frozen=True)
class TransitionResult:
    incident: dict[str, Any]
    #: (device_id, receipt) for every event of the incident
    receipts: list[tuple[str, Receipt]]


def transition(db: Database, incident_id: int, action: Action, actor: str, now: datetime, *,
               note: str = "", outcome: Outcome | None = None) -> TransitionResult:
    """Apply ``action`` by ``actor``; raise IncidentNotFound or TransitionError.

    Returns the updated incident and the receipts to publish to its devices.
    """
    if action not in TRANSITIONS:
        raise TransitionError(f"unknown action {action!r}")
    if not actor.strip():
        raise TransitionError("an actor (the officer who acts) is required")
    if action == "resolve" and outcome is None:
        raise TransitionError("resolve needs an outcome")
    allowed, target = TRANSITIONS[action]
    at = iso(now)
    with write_tx(db):
        row = query_one(db, "SELECT status, new_since_ack FROM incidents WHERE id = ?",
                        [incident_id])
        if row is None:
            raise IncidentNotFound(f"incident {incident_id} does not exist")
        status = row["status"]
        reacknowledge = action == "acknowledge" and bool(row["new_since_ack"]) \
            and status in OPEN_STATUSES
        if status not in allowed and not reacknowledge:
            raise TransitionError(_refusal(db, incident_id, action, status))
        if reacknowledge and status != "new":
            target = status  # acknowledging the new event keeps a dispatch in force
        sets: dict[str, str | int | None] = {"status": target, "updated_at": at,
                                             "new_since_ack": 0}
        # Every event the officer has now seen may be receipted "acknowledged".
        db.execute("UPDATE events SET acknowledged = 1 WHERE incident_id = ?", [incident_id])
        if reacknowledge:
            sets |= {"acknowledged_at": at, "acknowledged_by": actor}
        elif action in ("acknowledge", "dispatch"):
            db.execute("UPDATE incidents SET acknowledged_at = ?, acknowledged_by = ? "
                       "WHERE id = ? AND acknowledged_at IS NULL", [at, actor, incident_id])
        if action == "dispatch":
            sets |= {"dispatched_at": at, "dispatched_by": actor}
        elif action == "resolve":
            sets |= {"resolved_at": at, "resolved_by": actor,
                     "outcome": outcome.value if outcome else None}
        elif action == "close":
            sets |= {"closed_at": at, "closed_by": actor}
        assignments = ", ".join(f"{k} = ?" for k in sets)
        db.execute(f"UPDATE incidents SET {assignments}, version = version + 1 WHERE id = ?",
                   [*sets.values(), incident_id])
        detail: dict[str, Any] = {"from": status, "to": target}
        if note:
            detail["note"] = note
        if outcome is not None:
            detail["outcome"] = outcome.value
        log_action(db, incident_id, at, actor, action, detail)
    logger.info("incident %s: %s by %s (%s -> %s)", incident_id, action, actor, status, target)
    incident = get_incident(db, incident_id)
    assert incident is not None
    stage = STAGE_OF_STATUS[target]
    receipts = [] if action == "close" else receipts_for(db, incident_id, stage, now)
    return TransitionResult(incident, receipts)


def _refusal(db: Database, incident_id: int, action: str, status: str) -> str:
    row = query_one(db, "SELECT actor, at FROM incident_log WHERE incident_id = ? "
                        "ORDER BY id DESC LIMIT 1", [incident_id])
    last = f" (last change by {row['actor']} at {row['at']})" if row else ""
    return f"cannot {action} incident {incident_id}: it is {status}{last}"


def receipts_for(db: Database, incident_id: int, stage: Stage, now: datetime,
                 event_ids: list[str] | None = None) -> list[tuple[str, Receipt]]:
    """One ``stage`` receipt per event of the incident (or only ``event_ids``)."""
    inc = query_one(db, "SELECT acknowledged_by, dispatched_by, resolved_by, outcome "
                        "FROM incidents WHERE id = ?", [incident_id])
    if inc is None:
        return []
    by = {Stage.ACKNOWLEDGED: inc["acknowledged_by"], Stage.DISPATCHED: inc["dispatched_by"],
          Stage.RESOLVED: inc["resolved_by"]}.get(stage)
    outcome = Outcome(inc["outcome"]) if stage == Stage.RESOLVED and inc["outcome"] else None
    # "acknowledged"/"dispatched" only for events an officer has seen (module docstring).
    seen = "" if stage == Stage.RESOLVED else " AND acknowledged = 1"
    rows = db.query("SELECT event_id, device_id FROM events WHERE incident_id = ?" + seen +
                    " ORDER BY received_at, event_id", [incident_id])
    return [
        (row["device_id"], Receipt(event_id=row["event_id"], stage=stage, ts=now,
                                   incident_id=incident_id, by=by, outcome=outcome))
        for row in rows
        if event_ids is None or row["event_id"] in event_ids
    ]


INCIDENT_SELECT = """
SELECT i.*, v.name AS venue_name, v.kind AS venue_kind, v.address AS venue_address,
       s.name AS station_name
FROM incidents i JOIN venues v ON v.id = i.venue_id JOIN stations s ON s.id = i.station_id
"""


def incident_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["kinds"] = json.loads(out["kinds"])
    out["zones"] = json.loads(out["zones"])
    out["open"] = out["status"] in OPEN_STATUSES
    out["new_since_ack"] = bool(out.get("new_since_ack"))
    return out


def get_incident(db: Database, incident_id: int) -> dict[str, Any] | None:
    rows = list(db.query(INCIDENT_SELECT + " WHERE i.id = ?", [incident_id]))
    return incident_dict(rows[0]) if rows else None


def list_incidents(db: Database, *, station: str | None = None, open_only: bool = True,
                   category: str | None = None, limit: int = 200,
                   stations: Sequence[str] | None = None,
                   venues: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Incidents, newest first. ``stations`` / ``venues``: only these (a user's scope)."""
    where: list[str] = []
    params: list[Any] = []
    if station is not None:
        where.append("i.station_id = ?")
        params.append(station)
    for column, allowed in (("i.station_id", stations), ("i.venue_id", venues)):
        if allowed is not None:
            where.append(f"{column} IN ({', '.join('?' * len(allowed))})" if allowed
                         else "0")
            params.extend(allowed)
    if open_only:
        where.append("i." + _OPEN_SQL)
    if category is not None:
        where.append("i.category = ?")
        params.append(category)
    sql = INCIDENT_SELECT + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY i.opened_at DESC, i.id DESC LIMIT ?"
    return [incident_dict(r) for r in db.query(sql, [*params, limit])]


def incident_events(db: Database, incident_id: int) -> list[dict[str, Any]]:
    rows = db.query("SELECT * FROM events WHERE incident_id = ? ORDER BY received_at, event_id",
                    [incident_id])
    return [{**r, "detail": json.loads(r["detail"]), "test": bool(r["test"]),
             "clock_skewed": bool(r["clock_skewed"]), "zone_known": bool(r["zone_known"])}
            for r in rows]


def incident_log(db: Database, incident_id: int) -> list[dict[str, Any]]:
    rows = db.query("SELECT at, actor, action, detail FROM incident_log WHERE incident_id = ? "
                    "ORDER BY id", [incident_id])
    return [{**r, "detail": json.loads(r["detail"])} for r in rows]
