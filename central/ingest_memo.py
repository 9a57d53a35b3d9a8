"""What one ingest batch has read, so each lookup costs one statement per batch.

Inside :meth:`central.ingest.Ingestor.handle_batch` the writer thread runs nothing but
the batch, and the registry, commissioning sessions and officers' incident actions all
change on that same thread *between* batches. So device routes, open commissioning
sessions, devices' clock offsets, incident status and the venues' open incidents read
once in a batch stay exact for the rest of it, provided ingest updates the memo for its
own changes (it does: heartbeats set the offset, incidents update the open-incident
entry, troubles from reconnects drop it). The memo is dropped at the end of the batch,
and whenever a message fails and its savepoint rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from central import commissioning, incidents
from central.db import query_one
from central.ingest_bulk import PendingWrites
from central.ingest_queue import Delivery, route_of
from central.registry import device_route, device_routes

HEARTBEAT_SQL = (
    "INSERT INTO device_state (device_id, availability, last_seen, last_heartbeat, "
    "clock_offset_s, uptime_s, outbox_depth, inputs, temperature_c) "
    "VALUES (?, 'online', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
    "availability = 'online', last_seen = excluded.last_seen, "
    "last_heartbeat = excluded.last_heartbeat, clock_offset_s = excluded.clock_offset_s, "
    "uptime_s = excluded.uptime_s, outbox_depth = excluded.outbox_depth, "
    "inputs = excluded.inputs, temperature_c = excluded.temperature_c")


@dataclass
class BatchMemo:
    routes: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    offsets: dict[str, float | None] = field(default_factory=dict)
    status: dict[int, str | None] = field(default_factory=dict)
    open_incidents: incidents.OpenCache = field(default_factory=dict)
    sessions: dict[str, int] | None = None
    #: device -> its latest heartbeat row of the batch, written once at the batch's end.
    beats: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    #: event_id -> its row (None: not stored), prefetched for the batch's events and kept
    #: up to date with the batch's own (central/ingest_bulk.py).
    known: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    #: The batch's event writes, waiting for the batch's end (central/ingest_bulk.py).
    pending: PendingWrites = field(default_factory=PendingWrites)


def route(db: Database, memo: BatchMemo | None, device_id: str) -> dict[str, Any] | None:
    """The device's route (:func:`central.registry.device_route`), once per batch."""
    if memo is None:
        return device_route(db, device_id)
    if device_id not in memo.routes:
        memo.routes[device_id] = device_route(db, device_id)
    return memo.routes[device_id]


def prefetch_routes(db: Database, memo: BatchMemo, deliveries: list[Delivery]) -> None:
    """The routes of every device of the batch, in one statement (not one per message)."""
    wanted = [device for device in dict.fromkeys(route_of(d.topic)[0] for d in deliveries)
              if device and device not in memo.routes]
    if wanted:
        memo.routes.update(device_routes(db, wanted))


def venues_of(db: Database, memo: BatchMemo | None, deliveries: list[Delivery]) -> list[str]:
    """The venues of the batch's registered devices (for the workers' venue locks)."""
    venues = []
    for delivery in deliveries:
        device_id, _channel = route_of(delivery.topic)
        found = route(db, memo, device_id) if device_id else None
        if found is not None:
            venues.append(found["venue_id"])
    return venues


def clock_offset(db: Database, memo: BatchMemo | None, device_id: str) -> float | None:
    """The device's clock offset from its last heartbeat (None: never measured)."""
    if memo is not None and device_id in memo.offsets:
        return memo.offsets[device_id]
    state = query_one(db, "SELECT clock_offset_s FROM device_state WHERE device_id = ?",
                      [device_id])
    offset = state["clock_offset_s"] if state is not None else None
    if memo is not None:
        memo.offsets[device_id] = offset
    return offset


def incident_status(db: Database, memo: BatchMemo | None, incident_id: int) -> str | None:
    """An incident's status (None: no such incident)."""
    if memo is not None and incident_id in memo.status:
        return memo.status[incident_id]
    row = query_one(db, "SELECT status FROM incidents WHERE id = ?", [incident_id])
    status = None if row is None else str(row["status"])
    if memo is not None:
        memo.status[incident_id] = status
    return status


def sessions(db: Database, memo: BatchMemo | None, now: datetime) -> dict[str, int] | None:
    """Open commissioning sessions for the batch (None outside a batch: ask per event)."""
    if memo is None:
        return None
    if memo.sessions is None:
        memo.sessions = commissioning.open_sessions(db, now)
    return memo.sessions


def flush_beats(db: Database, memo: BatchMemo | None, device_id: str | None = None) -> None:
    """Write the batch's waiting heartbeat rows (all, or one device's) in one statement."""
    if memo is None or not memo.beats:
        return
    if device_id is None:
        rows, memo.beats = list(memo.beats.values()), {}
    else:
        one = memo.beats.pop(device_id, None)
        rows = [] if one is None else [one]
    if rows:
        db.conn.executemany(HEARTBEAT_SQL, rows)

