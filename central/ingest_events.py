"""Ingest of events (a mixin of :class:`central.ingest.Ingestor`, on the writer thread).

An event is stored (deduplicated on ``event_id``) and attached to its incident in ONE
transaction; only after the commit is the ``stored`` receipt published, and it is
published again for a duplicate, because the device resends exactly when a receipt was
lost. Inside a batch the event's writes wait for the batch's end
(:mod:`central.ingest_bulk`). An event central can never accept is dead-lettered and
answered with a ``rejected`` receipt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from alarmlink.wire import Event, Receipt, Stage, State, Topics, encode
from central import commissioning, dead_letters, incidents
from central import ingest_bulk as bulk
from central import ingest_memo as memos
from central.db import iso, query_one, write_tx
from central.db.pg_store import lock_keys
from central.ingest_hooks import IngestHooks
from central.ingest_memo import BatchMemo

logger = logging.getLogger("central.ingest")

Publish = Callable[[str, bytes], None]


def publish_receipts(publish: Publish, topics: Topics,
                     receipts: list[tuple[str, Receipt]]) -> int:
    """Publish receipts; a failure is logged, never raised. Returns how many were handed over."""
    sent = 0
    for device_id, receipt in receipts:
        try:
            publish(topics.receipt(device_id), encode(receipt))
            sent += 1
        except Exception:  # an injected callback: whatever it raises must not stop ingest
            logger.exception("could not publish %s receipt for event %s to %s",
                             receipt.stage, receipt.event_id, device_id)
    return sent


class EventMessages(IngestHooks):
    """Event handling for the ingestor: dedupe, incident, stored or rejected receipt."""

    db: Database
    clock: Callable[[], datetime]
    topics: Topics
    publish: Publish
    publish_stored: Publish
    clock_skew_threshold_s: float
    _memo: BatchMemo | None
    _after_commit: list[Callable[[], object]] | None

    def _event(self, topic: str, payload: bytes, event: Event, route: dict[str, Any]) -> None:
        device_id = route["device_id"]
        if event.device_id != device_id:
            reason = (f"device id in payload {event.device_id!r} does not match topic "
                      f"{device_id!r}")
            self.dead_letter(topic, payload, reason, device_id)
            self._reject(device_id, payload, reason)
            return
        now = self.clock()
        memo = self._memo
        # In a batch the event's writes wait for the batch's end (central/ingest_bulk.py):
        # nothing is half-written, so no savepoint of its own.
        with nullcontext() if memo is not None else write_tx(self.db):
            if self._after_commit is None:  # a batch locked its venues already
                lock_keys(self.db, [route["venue_id"]])
            if memo is not None and event.event_id in memo.known:
                existing = memo.known[event.event_id]
            else:
                existing = query_one(
                    self.db, "SELECT device_id, seq, kind, state, zone, incident_id FROM "
                    "events WHERE event_id = ?", [event.event_id])
            if existing is None:
                incident_id = self._store_event(event, route, now)
            else:
                incident_id = existing["incident_id"]
                if existing["device_id"] != device_id:
                    reason = (f"event_id {event.event_id} was already stored for device "
                              f"{existing['device_id']!r}; not accepted from {device_id!r}")
                else:
                    if memo is None or not memo.pending.again(event.event_id):
                        self.db.execute("UPDATE events SET deliveries = deliveries + 1 "
                                        "WHERE event_id = ?", [event.event_id])
                    mine = (event.seq, event.kind.value, event.state.value, event.zone)
                    stored = tuple(existing[k] for k in ("seq", "kind", "state", "zone"))
                    reason = "" if stored == mine else (
                        f"duplicate event_id {event.event_id} with different content "
                        f"(stored seq/kind/state/zone {stored}, got {mine})")
        if existing is not None:
            if existing["device_id"] != device_id:
                self.dead_letter(topic, payload, reason, device_id)
                self._reject(device_id, payload, reason)
                return
            if reason:
                self.dead_letter(topic, payload, reason, device_id)
            logger.info("duplicate event %s from %s: receipt sent again", event.event_id,
                        device_id)
        # Committed: only now may the device forget the event.
        receipt = [(device_id, Receipt(event_id=event.event_id, stage=Stage.STORED, ts=now,
                                       incident_id=incident_id))]
        self._later(lambda: publish_receipts(self.publish_stored, self.topics, receipt))
        if incident_id is not None:
            status = memos.incident_status(self.db, self._memo, incident_id)
            stage = incidents.STAGE_OF_STATUS.get(status) if status else None
            if stage is not None:  # the station already acted: tell this device too (QoS 1)
                if memo is not None:  # (it reads the incident's events)
                    memo.pending.flush(self.db)
                later = incidents.receipts_for(self.db, incident_id, stage, now,
                                               [event.event_id])
                self._later(lambda: publish_receipts(self.publish, self.topics, later))
        if incident_id is not None and existing is None:
            self._push(incident_id)

    def _reject(self, device_id: str, payload: bytes, reason: str) -> None:
        """Answer an event central will never accept with a ``rejected`` receipt (after the
        commit of its dead letter), so the device stops resending it. Needs an event id."""
        event_id = dead_letters.event_id_of(payload)
        if event_id is None:
            return
        receipt = Receipt(event_id=event_id, stage=Stage.REJECTED, ts=self.clock(),
                          reason=reason[:256])
        self._later(lambda: publish_receipts(self.publish, self.topics, [(device_id, receipt)]))

    def _store_event(self, event: Event, route: dict[str, Any], now: datetime) -> int | None:
        memo = self._memo
        sessions = memos.sessions(self.db, memo, now)
        if commissioning.record_hit(self.db, event, now, sessions) and not event.test:
            # walk test (central/commissioning.py): stored as a test event, never an incident
            event = event.model_copy(update={"test": True})
        delay_s = (now - event.ts).total_seconds()
        offset = memos.clock_offset(self.db, memo, event.device_id)
        limit = self.clock_skew_threshold_s
        skewed = -delay_s > limit or (offset is not None and abs(offset) > limit)
        zone_known = not route["zones"] or event.zone in route["zones"]
        if skewed:
            logger.warning("event %s from %s: device clock looks off (ts %s, received %s)",
                           event.event_id, event.device_id, event.ts, now)
        if not zone_known:
            logger.warning("event %s from %s: zone %r is not in the registry", event.event_id,
                           event.device_id, event.zone)
        # the incident first, so the event row is written once, with its incident id
        if memo is not None and event.state == State.RESTORE:  # a restore reads incidents
            memo.pending.flush(self.db)
        incident_id = incidents.attach_event(self.db, event, route["venue_id"],
                                             route["station_id"], now,
                                             memo.open_incidents if memo else None,
                                             memo.pending if memo else None)
        kind, state = event.kind.value, event.state.value
        row = [event.event_id, event.device_id, route["venue_id"], event.seq, iso(event.ts),
               iso(now), delay_s, skewed, kind, state, event.zone, zone_known,
               event.source.value, event.test,
               json.dumps(event.detail) if event.detail else "{}", incident_id]
        if memo is None:
            self.db.execute(bulk.EVENT_INSERT_SQL, [*row, 1])
        else:  # written with the batch's others; a repeat later in the batch finds it
            memo.pending.event(row)
            memo.known[event.event_id] = {"device_id": event.device_id, "seq": event.seq,
                                          "kind": kind, "state": state, "zone": event.zone,
                                          "incident_id": incident_id}
        if event.test:
            logger.info("test event %s from %s stored (no incident)", event.event_id,
                        event.device_id)
        return incident_id
