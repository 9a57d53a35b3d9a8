"""Ingest: every message a device sends, validated, stored or dead-lettered.

:meth:`Ingestor.handle` is called once per MQTT message, on the MQTT thread,
before the broker is told the message was delivered. In the running central
the work runs on the one writer thread (:class:`central.db.Writer`) and the
MQTT thread waits for it, so the broker is acknowledged only after the commit.
It never raises, except :class:`~central.db.WriterClosed` while central stops:
then the message is deliberately left unacknowledged for the broker to redeliver.

* The device id comes from the topic: the broker authenticated the device and
  its ACL allows it to publish only under its own id.
* An event is stored (deduplicated on ``event_id``) and attached to its
  incident in ONE transaction. Only after the commit is the ``stored`` receipt
  published, and it is published again for a duplicate, because the device
  resends exactly when a receipt was lost.
* Anything that does not pass goes to ``dead_letters`` with the topic, the raw
  bytes (the first :data:`~central.db.DEAD_LETTER_MAX_BYTES`), the original
  size and the reason (:mod:`central.dead_letters`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlite_utils import Database

from alarmlink.wire import (
    CommandResult,
    ContractError,
    Event,
    Heartbeat,
    RtcKind,
    RtcSignal,
    Status,
    Topics,
    decode,
    model_for,
    utcnow,
)
from central import dead_letters, incidents
from central import ingest_bulk as bulk
from central import ingest_memo as memos
from central.db import (
    GroupCommit,
    Writer,
    after_commit,
    query_one,
    sync_wal,
    without_fsync,
    write_tx,
)
from central.db.pg_store import PgDatabase, lock_keys
from central.ingest_async import AsyncEntry
from central.ingest_devices import DeviceMessages
from central.ingest_events import EventMessages
from central.ingest_memo import BatchMemo
from central.ingest_queue import Delivery, latency_logger
from central.reconnects import ReconnectWatch
from central.recordings import RecordingFiles
from central.snapshots import SnapshotFiles
from central.supervision_config import SupervisionConfig

logger = logging.getLogger(__name__)

#: publish(topic, payload): QoS 1, not retained. Must be thread-safe.
Publish = Callable[[str, bytes], None]
#: notify(incident): an incident was opened or changed (called after commit).
Notify = Callable[[dict[str, Any]], None]
Clock = Callable[[], datetime]

#: Messages a batch handles before it may stop for a waiting alarm (so it always moves on).
MIN_BEFORE_YIELD = 8

INBOUND_CHANNELS = ("event", "status", "heartbeat", "cmd/result", "snapshot", "rtc/reply",
                    "rtc/rec")


def _no_notify(_incident: dict[str, Any]) -> None:
    return None


class Ingestor(EventMessages, DeviceMessages, AsyncEntry):
    """Turns raw MQTT messages into rows, incidents and receipts.

    Events are handled here; what devices report about themselves (status, heartbeats,
    command results, snapshots) in :mod:`central.ingest_devices`; the event loop's entry
    points (the DC-09 receiver) in :mod:`central.ingest_async`.

    ``db``: central's :class:`~central.db.Writer` (every message is processed on
    the writer thread), or a plain connection used on the caller's thread
    (tests, tools).
    """

    def __init__(self, db: Database | Writer | PgDatabase, topics: Topics, publish: Publish,
                 notify: Notify = _no_notify, clock: Clock = utcnow, *,
                 clock_skew_threshold_s: float = 30.0,
                 snapshot_files: SnapshotFiles | None = None,
                 supervision_config: SupervisionConfig | None = None,
                 notify_frame: Notify = _no_notify,
                 dead_letter_policy: dead_letters.Policy | None = None) -> None:
        self.writer = db if isinstance(db, Writer) else None
        # a PgDatabase (central/db/pg_store.py) offers the same surface as a Database
        self.db = db.db if isinstance(db, Writer) else cast(Database, db)
        #: Group commit for callers on the event loop (the DC-09 receiver).
        self.group = GroupCommit(db) if isinstance(db, Writer) else None
        if snapshot_files is None and isinstance(self.db, PgDatabase):
            raise ValueError("ingest on PostgreSQL: give snapshot_files (a directory every "
                             "node and worker shares); there is no database file beside it")
        if snapshot_files is None:  # default: beside the database
            main = query_one(self.db, "PRAGMA database_list")
            assert main is not None
            snapshot_files = SnapshotFiles(Path(main["file"]).parent / "snapshots")
        #: Where snapshot JPEGs go (central/snapshots.py).
        self.snapshot_files = snapshot_files
        #: Where live-session recordings go (central/recordings.py): beside the snapshots.
        self.recording_files = RecordingFiles(snapshot_files.root.parent / "recordings")
        self.topics = topics
        self.publish = publish
        #: Publishes the ``stored`` receipts ingest sends after each commit. The service
        #: sets it to a QoS 0 publish: a lost ``stored`` receipt only makes the device
        #: resend, and the resend is deduplicated and answered again.
        self.publish_stored: Publish = publish
        self.notify = notify
        #: Dead-letter budget and cap ([limits]; the service builds it with its flood watch).
        self.dead_letter_policy = dead_letter_policy or dead_letters.Policy()
        #: Called with :func:`central.snapshots.frame_message` after a new frame of an
        #: incident is committed (the live hub pushes it to the consoles).
        self.notify_frame = notify_frame
        #: Live-session signals from devices (``rtc/reply``): set by the service to the
        #: relay (:class:`central.av.AvRelay`); called on the ingest thread, never blocks.
        self.on_rtc: Callable[[str, RtcSignal], None] = lambda device_id, signal: None
        #: A venue's talk request, after its commit (central/talk.py): the service pushes it.
        self.on_talk: Callable[[dict[str, Any]], None] = lambda message: None
        self.clock = clock
        self.clock_skew_threshold_s = clock_skew_threshold_s
        #: Reconnect and takeover troubles (central/reconnects.py).
        self.reconnects = ReconnectWatch(supervision_config or SupervisionConfig())
        #: Told (device_id, when) for every heartbeat stored: supervision's deadlines.
        self.on_heard: Callable[[str, datetime], None] | None = None
        #: True while an alarm waits for the writer (the ingest queue's
        #: :meth:`~central.ingest_queue.IngestQueue.alarm_waiting`): a batch of status,
        #: heartbeats and the like commits early and lets it through.
        self.should_yield: Callable[[], bool] | None = None
        #: Inside :meth:`handle_batch`: what to do after the batch's commit.
        self._after_commit: list[Callable[[], object]] | None = None
        #: Inside :meth:`handle_batch`: the consoles' pushes, after the commit (before the
        #: WAL's sync and the rest of :attr:`_after_commit`).
        self._push_actions: list[Callable[[], object]] | None = None
        self._pushes: set[int] = set()
        #: Inside :meth:`handle_batch`: what the batch has read (routes, open incidents,
        #: commissioning sessions, clock offsets, incident status). Only the writer thread
        #: changes these, and never during a batch except through ingest itself, so the
        #: memo is exact for the batch; it is dropped when the batch ends or a message fails.
        self._memo: BatchMemo | None = None

    def handle(self, topic: str, payload: bytes) -> None:
        """Process one message (on the writer, waiting for it). Failures end as dead letters."""
        if self.writer is None:
            self._handle_safely(self.db, topic, bytes(payload))
        else:
            self.writer.call(self._handle_safely, topic, bytes(payload))

    def handle_batch(self, deliveries: list[Delivery]) -> int | None:
        """Process messages in ONE transaction (on the writer thread), then act on them.

        Receipts and console pushes happen after the commit. If the batch's transaction
        cannot commit, every message is processed again in a transaction of its own, so
        one bad batch never stops ingest. Never raises.

        Returns how many of ``deliveries`` (from the first) were handled, None for all: a
        batch that is not events stops early when :attr:`should_yield` says an alarm
        waits (after :data:`MIN_BEFORE_YIELD`), and the caller gives the rest back.
        """
        self._after_commit = []
        self._push_actions = []
        self._pushes = set()
        self._memo = BatchMemo()
        handled: int | None = None
        # nothing but heartbeats: the next heartbeat replaces every row, so no fsync of its
        # own (a takeover trouble one raises is raised again by the next one if a power cut
        # undid it: its count is since the agent started)
        beats_only = all(d.topic.endswith("/heartbeat") for d in deliveries)
        # anything else on SQLite: committed without the fsync, pushed to the consoles,
        # THEN made durable (sync_wal) before any receipt or PUBACK: the push does not wait
        # for the disk, and nothing is acknowledged that a power cut could undo (central
        # dying in between leaves the messages with the broker and the devices' outboxes)
        sync_later = not beats_only and not isinstance(self.db, PgDatabase)
        try:
            with without_fsync(self.db, beats_only or sync_later), write_tx(self.db):
                if isinstance(self.db, PgDatabase):  # workers write at once: lock venues
                    lock_keys(self.db, memos.venues_of(self.db, self._memo, deliveries))
                memos.prefetch_routes(self.db, self._memo, deliveries)
                self._memo.known = bulk.prefetch(self.db, bulk.scan_ids(
                    d.payload for d in deliveries if d.topic.endswith("/event")))
                for n, delivery in enumerate(deliveries):
                    if n >= MIN_BEFORE_YIELD and not delivery.topic.endswith("/event") \
                            and self.should_yield is not None and self.should_yield():
                        handled = n  # an alarm waits: commit what is done, let it through
                        break
                    self._superseded(delivery)
                    self._handle_safely(self.db, delivery.topic, delivery.payload)
                self._flush_beats()
                self._memo.pending.flush(self.db)
        except sqlite3.Error as exc:
            logger.error("a batch of %d message(s) could not commit (%s); processing them "
                         "one by one", len(deliveries), exc)
            self._after_commit = self._push_actions = None
            self._memo = None
            if getattr(self.db, "broken", False):  # PostgreSQL gone: one by one fails too
                return None  # (the ingest worker exits before any PUBACK: ingest_worker.py)
            for delivery in deliveries:
                self._superseded(delivery)
                self._handle_safely(self.db, delivery.topic, delivery.payload)
            return None
        finally:
            self._memo = None
        pushes, self._push_actions = self._push_actions, None
        for action in pushes:
            action()
        if pushes and latency_logger.isEnabledFor(logging.DEBUG):  # (bench/latency.py)
            latency_logger.debug("pushed at=%.6f", time.monotonic())
        if sync_later:
            try:
                sync_wal(cast(Database, self.db))
            except OSError as exc:  # not durable: acknowledge nothing, take them again
                logger.error("syncing the database to disk failed (%s); the batch's %d "
                             "message(s) are not acknowledged and will be taken again; "
                             "check the disk", exc, len(deliveries))
                self._after_commit = None
                return 0
        actions, self._after_commit = self._after_commit, None
        for action in actions:
            action()
        return handled

    def _later(self, action: Callable[[], object]) -> None:
        """Run ``action`` after the commit: at the end of the current batch, or once the
        transaction it was written in commits (a group commit's, for the receiver)."""
        if self._after_commit is None:
            after_commit(self.db, action)
        else:
            self._after_commit.append(action)

    def _handle_safely(self, _db: Database, topic: str, payload: bytes) -> None:
        try:
            self._handle(topic, payload)
        except Exception as exc:  # the last line of defence; the reason is kept
            logger.exception("ingest failed on %s", topic)
            if self._memo is not None:  # its savepoint was rolled back: forget what it read
                self._memo.pending.flush(self.db)  # (not the others' events and heartbeats)
                self._memo = BatchMemo(beats=self._memo.beats)
            self.dead_letter(topic, payload, f"internal error: {type(exc).__name__}: {exc}")

    def dead_letter(self, topic: str, payload: bytes, reason: str,
                    device_id: str | None = None) -> None:
        try:
            stored = dead_letters.store(self.db, topic, payload, reason, device_id,
                                        self.clock(), policy=self.dead_letter_policy)
        except sqlite3.Error:
            logger.exception("could not store dead letter from %s: %s", topic, reason)
            return
        # Over the device's dead-letter budget: counted, not stored, and not logged one by
        # one (the budget logs the flood once a minute: central/dead_letters.py).
        (logger.warning if stored else logger.debug)(
            "dead letter from %s (%d bytes): %s", topic, len(payload), reason)

    def _handle(self, topic: str, payload: bytes) -> None:
        try:
            device_id, channel, snapshot_event = self.topics.parse(topic)
        except ContractError as exc:
            self.dead_letter(topic, payload, str(exc))
            return
        if channel not in INBOUND_CHANNELS:
            self.dead_letter(topic, payload, f"channel {channel!r} is not sent by devices",
                             device_id)
            return
        if channel != "event" and self._memo is not None:  # it may read what events wrote
            self._memo.pending.flush(self.db)
        route = memos.route(self.db, self._memo, device_id)
        if route is None:
            self.dead_letter(topic, payload, f"unknown device {device_id!r}: not in the registry")
            return
        if channel == "snapshot":
            assert snapshot_event is not None
            self._snapshot(topic, device_id, snapshot_event, payload)
            return
        if channel == "rtc/rec":
            assert snapshot_event is not None   # the session id
            self._recording(topic, device_id, snapshot_event, payload)
            return
        try:
            message = decode(model_for(channel), payload)
        except ContractError as exc:
            self.dead_letter(topic, payload, str(exc), device_id)
            if channel == "event":
                self._reject(device_id, payload, str(exc))
            return
        if isinstance(message, Event):
            self._event(topic, payload, message, route)
        elif isinstance(message, Status):
            self._status(route, message)
        elif isinstance(message, Heartbeat):
            self._heartbeat(route, message)
        elif isinstance(message, CommandResult):
            self._command_result(device_id, message)
        elif isinstance(message, RtcSignal) and message.kind == RtcKind.TALK_REQUEST:
            self._talk_request(topic, payload, route, message)
        elif isinstance(message, RtcSignal):
            self.on_rtc(device_id, message)


    def _notify(self, incident: dict[str, Any]) -> None:
        """Push ``incident`` to the consoles once it is committed."""
        after_commit(self.db, lambda: self._notify_now(incident))

    def _notify_now(self, incident: dict[str, Any]) -> None:
        try:
            self.notify(incident)
        except Exception:  # an injected callback must not undo a committed ingest
            logger.exception("live notification for incident %s failed", incident.get("id"))

    def _push(self, incident_id: int | None) -> None:
        """Push an incident an event or a trouble opened or changed, after the commit.

        Within a batch each incident is read and pushed once, as it stands after the
        commit, however many of the batch's events joined it.
        """
        if incident_id is None:
            return
        if self._push_actions is not None:
            if incident_id not in self._pushes:
                self._pushes.add(incident_id)
                self._push_actions.append(lambda: self._push_now(incident_id))
            return
        self._push_now(incident_id)

    def _push_now(self, incident_id: int) -> None:
        incident = incidents.get_incident(self.db, incident_id)
        if incident is not None:
            self._notify(incident)
