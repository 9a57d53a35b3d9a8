"""Ingest's writes for a whole batch at once: a few statements per batch, not six per event.

Inside :meth:`central.ingest.Ingestor.handle_batch` the writer runs nothing but the batch
(see :mod:`central.ingest_memo`), so an event's writes need not be issued one by one:

* :func:`prefetch` looks up every ``event_id`` of the batch's events in ONE ``SELECT``
  (the ids are found in the raw bytes; an id the scan missed is looked up on its own, so
  a strange payload costs a statement, never a wrong answer);
* the new event rows, their ``incident_log`` entries and each joined incident's new
  zones, kinds and event count wait in :class:`PendingWrites` and are written by
  :meth:`PendingWrites.flush`: one ``executemany`` per table and one ``UPDATE`` per
  incident, at the batch's end, before its commit.

Anything that reads those tables in the batch's transaction (a restore, a status or
heartbeat trouble, a snapshot, a talk request, stage receipts of an incident already
acted on) flushes first, so it sees exactly what one-by-one writes would have left.
Receipts still go out only after the commit, and a batch whose commit fails is processed
again one message at a time without any of this.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

logger = logging.getLogger(__name__)

EVENT_INSERT_SQL = (
    "INSERT INTO events (event_id, device_id, venue_id, seq, ts, received_at, delay_s, "
    "clock_skewed, kind, state, zone, zone_known, source, test, detail, incident_id, "
    "deliveries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
LOG_INSERT_SQL = ("INSERT INTO incident_log (incident_id, at, actor, action, detail) "
                  "VALUES (?, ?, ?, ?, ?)")
#: Most ids in one prefetch ``SELECT`` (well under SQLite's and PostgreSQL's limits).
PREFETCH_CHUNK = 500
#: An ``event_id`` as devices encode it (ULID; canonical upper case).
_EVENT_ID = re.compile(rb'"event_id"\s*:\s*"([0-9A-Za-z]{26})"')
#: Index of ``deliveries`` in an :data:`EVENT_INSERT_SQL` row.
_DELIVERIES = 16


@dataclass
class IncidentChange:
    """A joined incident's state after the batch's events (written once)."""

    zones: dict[str, str]
    kinds: list[str]
    events: int
    at: str


@dataclass
class PendingWrites:
    """What the batch's events will write, waiting for :meth:`flush`."""

    events: dict[str, list[Any]] = field(default_factory=dict)
    log: list[list[Any]] = field(default_factory=list)
    incidents: dict[int, IncidentChange] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.events or self.log or self.incidents)

    def event(self, row: list[Any]) -> None:
        """A new event's row (:data:`EVENT_INSERT_SQL` order, without ``deliveries``)."""
        self.events[row[0]] = [*row, 1]

    def again(self, event_id: str) -> bool:
        """A repeat of an event of this batch: count the delivery (False: not pending)."""
        row = self.events.get(event_id)
        if row is None:
            return False
        row[_DELIVERIES] += 1
        return True

    def joined(self, incident_id: int, at: str, zones: dict[str, str], kinds: list[str],
               detail: dict[str, Any]) -> None:
        """An event joined an open incident: its new zones and kinds, and the log entry."""
        change = self.incidents.get(incident_id)
        if change is None:
            self.incidents[incident_id] = IncidentChange(zones, kinds, 1, at)
        else:
            change.zones, change.kinds, change.at = zones, kinds, at
            change.events += 1
        self.log.append([incident_id, at, "system", "event", json.dumps(detail)])

    def flush(self, db: Database) -> None:
        """Write everything waiting, in the caller's transaction."""
        if not self:
            return
        for incident_id, change in self.incidents.items():
            db.execute("UPDATE incidents SET zones = ?, kinds = ?, event_count = event_count + "
                       "?, updated_at = ?, last_event_at = ?, version = version + ? "
                       "WHERE id = ?", [json.dumps(change.zones), json.dumps(change.kinds),
                                        change.events, change.at, change.at, change.events,
                                        incident_id])
        if self.log:
            db.conn.executemany(LOG_INSERT_SQL, self.log)
        if self.events:
            db.conn.executemany(EVENT_INSERT_SQL, list(self.events.values()))
        self.events, self.log, self.incidents = {}, [], {}


def scan_ids(payloads: Iterable[bytes]) -> list[str]:
    """The ``event_id`` values found in raw event payloads (unvalidated: a prefetch key)."""
    ids = []
    for payload in payloads:
        found = _EVENT_ID.search(payload)
        if found is not None:
            ids.append(found.group(1).decode("ascii"))
    return ids


def prefetch(db: Database, ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """``event_id`` -> its stored row (device, seq, kind, state, zone, incident) or None,
    for every id asked (stored or not), in one ``SELECT`` per :data:`PREFETCH_CHUNK`."""
    known: dict[str, dict[str, Any] | None] = dict.fromkeys(ids)
    unique = list(known)
    for start in range(0, len(unique), PREFETCH_CHUNK):
        chunk = unique[start:start + PREFETCH_CHUNK]
        marks = ", ".join("?" * len(chunk))
        for row in db.query(f"SELECT event_id, device_id, seq, kind, state, zone, incident_id "
                            f"FROM events WHERE event_id IN ({marks})", chunk):
            known[row["event_id"]] = dict(row)
    return known
