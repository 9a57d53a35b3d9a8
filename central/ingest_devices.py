"""Ingest of what devices report about themselves: status, heartbeats, command results
and snapshots (a mixin of :class:`central.ingest.Ingestor`, on the writer thread).

Heartbeats cost little: inside a batch a device's heartbeat row waits in the batch memo
and is written once, at the batch's end, for every device of the batch in one statement
(:func:`central.ingest_memo.flush_beats`); supervision's deadlines move in memory
(``on_heard``). Only a heartbeat that raises a trouble (a session takeover count) is
written at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from alarmlink.wire import (
    Availability,
    CommandResult,
    ContractError,
    Heartbeat,
    RtcSignal,
    Status,
    Topics,
    decode,
    encode,
)
from central import ingest_memo as memos
from central import supervision, talk
from central.db import iso, write_tx
from central.ingest_hooks import IngestHooks
from central.ingest_memo import BatchMemo
from central.ingest_queue import Delivery
from central.log_burst import BurstLog
from central.reconnects import ReconnectWatch
from central.recordings import RecordingFiles, RecordingRejected, ingest_chunk
from central.snapshots import SnapshotFiles, SnapshotRejected, frame_message, ingest_snapshot

logger = logging.getLogger("central.ingest")
#: After a broker restart every device's status arrives at once: a summary, not 20,000 lines.
_status_log = BurstLog(logger, "device status lines")


class DeviceMessages(IngestHooks):
    """Status, heartbeat, command-result, snapshot and recording handling for the ingestor."""

    db: Database
    clock: Callable[[], datetime]
    reconnects: ReconnectWatch
    on_heard: Callable[[str, datetime], None] | None
    snapshot_files: SnapshotFiles
    recording_files: RecordingFiles
    topics: Topics
    publish: Callable[[str, bytes], None]
    notify_frame: Callable[[dict[str, Any]], None]
    on_talk: Callable[[dict[str, Any]], None]
    _memo: BatchMemo | None

    def _status(self, route: dict[str, Any], status: Status) -> None:
        device_id = route["device_id"]
        moment = self.clock()
        now = iso(moment)
        changed = None
        self._flush_beats(device_id)  # an earlier heartbeat of the batch must not win
        with write_tx(self.db):
            supervision.record_status(self.db, device_id, status.state, moment)
            if status.state == Availability.ONLINE:
                changed = self.reconnects.online(self.db, route, status.ts, moment)
            self.db.execute(
                "INSERT INTO device_state (device_id, availability, status_ts, last_seen, boot_id, "
                "version, config_hash) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO "
                "UPDATE SET availability = excluded.availability, status_ts = excluded.status_ts, "
                "last_seen = excluded.last_seen, boot_id = excluded.boot_id, "
                "version = excluded.version, config_hash = excluded.config_hash",
                [device_id, status.state.value, iso(status.ts), now, status.boot_id,
                 status.version, status.config_hash])
        _status_log.log(status.state.value, "device %s is %s (boot %s, version %s)",
                        device_id, status.state.value, status.boot_id, status.version)
        self._trouble_changed(route, changed)
        self._push(changed)

    def _talk_request(self, topic: str, payload: bytes, route: dict[str, Any],
                      signal: RtcSignal) -> None:
        """A venue's talk request: on its open alarm's timeline, or an alarm incident of its
        own when none is open (central/talk.py); the venue is told central has it."""
        with write_tx(self.db):
            pushed = talk.record(self.db, route, signal, self.clock())
        if self._memo is not None:  # it may have opened the venue's alarm incident
            self._memo.open_incidents.pop((route["venue_id"], "alarm"), None)
        self._push(pushed["incident_id"])
        answer = encode(talk.received(signal, pushed["incident_id"]))
        self._later(lambda: self.on_talk(pushed))
        self._later(lambda: self.publish(self.topics.rtc(route["device_id"]), answer))

    def _superseded(self, delivery: Delivery) -> None:
        """Statuses a newer one replaced in the ingest queue (central/ingest_queue.py):
        not written (the newer one says where the device is now), but a malformed one is
        still a dead letter and an ``online`` one still counts as a reconnect."""
        for payload in delivery.superseded:
            try:
                device_id = self.topics.parse(delivery.topic)[0]
                route = memos.route(self.db, self._memo, device_id)
                status = decode(Status, payload)
            except ContractError as exc:
                self.dead_letter(delivery.topic, payload, str(exc))
                continue
            if route is None:
                continue  # the newer one is dead-lettered as from an unknown device
            logger.debug("device %s: a %s status replaced by a newer one while queued",
                         device_id, status.state.value)
            if status.state == Availability.ONLINE:
                with write_tx(self.db):
                    changed = self.reconnects.online(self.db, route, status.ts, self.clock())
                self._trouble_changed(route, changed)
                self._push(changed)

    def _trouble_changed(self, route: dict[str, Any], incident_id: int | None) -> None:
        """A reconnect or takeover trouble opened or changed an incident: re-read it."""
        if incident_id is not None and self._memo is not None:
            self._memo.open_incidents.pop((route["venue_id"], "trouble"), None)
            self._memo.status.pop(incident_id, None)

    def _heartbeat(self, route: dict[str, Any], beat: Heartbeat) -> None:
        device_id = route["device_id"]
        now = self.clock()
        offset = (beat.ts - now).total_seconds()
        changed = None
        row = (device_id, iso(now), iso(now), offset, beat.uptime_s, beat.outbox_depth,
               json.dumps(beat.inputs), beat.temperature_c)
        if self._memo is not None and beat.session_takeovers == 0:
            # nothing to raise: the row waits for the batch's end, one write per device
            self.reconnects.takeovers(self.db, route, 0, now)
            self._memo.beats[device_id] = row
        else:
            if self._memo is not None:  # this newer row supersedes one waiting in the batch
                self._memo.beats.pop(device_id, None)
            with write_tx(self.db):
                changed = self.reconnects.takeovers(self.db, route, beat.session_takeovers,
                                                    now)
                self.db.execute(memos.HEARTBEAT_SQL, row)
        if self._memo is not None:
            self._memo.offsets[device_id] = offset
        if self.on_heard is not None:  # same thread as supervision (the writer)
            self.on_heard(device_id, now)
        self._trouble_changed(route, changed)
        self._push(changed)

    def _flush_beats(self, device_id: str | None = None) -> None:
        memos.flush_beats(self.db, self._memo, device_id)

    def _command_result(self, device_id: str, result: CommandResult) -> None:
        with write_tx(self.db):
            self.db.execute(
                "INSERT INTO command_results (cmd_id, device_id, ok, ts, received_at, detail) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (cmd_id, device_id) DO NOTHING",
                [result.cmd_id, device_id, result.ok, iso(result.ts), iso(self.clock()),
                 json.dumps(result.detail)])

    def _snapshot(self, topic: str, device_id: str, event_id: str, payload: bytes) -> None:
        # Size, JPEG magic, metadata, event and venue checks: central/snapshots.py.
        try:
            stored = ingest_snapshot(self.db, self.snapshot_files, device_id, event_id,
                                     payload, self.clock())
        except SnapshotRejected as exc:
            self.dead_letter(topic, payload, str(exc), device_id)
            return
        if stored.duplicate or stored.incident_id is None:
            return
        frame = frame_message(self.db, stored.id)
        if frame is None:
            return
        try:
            self.notify_frame(frame)
        except Exception:  # an injected callback must not undo a committed ingest
            logger.exception("live notification for snapshot %s failed", stored.id)

    def _recording(self, topic: str, device_id: str, session_id: str, payload: bytes) -> None:
        # Contract, session binding, idempotence, hash: central/recordings.py.
        try:
            result = ingest_chunk(self.db, self.recording_files, device_id, session_id,
                                  payload, self.clock())
        except RecordingRejected as exc:
            self.dead_letter(topic, payload[:4096], str(exc), device_id)
            return
        if result.reply is not None:
            signal = RtcSignal(session_id=session_id, kind=result.reply, ts=self.clock(),
                               reason=result.reason[:256] or None)
            self._later(lambda: self.publish(self.topics.rtc(device_id), encode(signal)))
        if result.state == "complete" and not result.duplicate and result.incident_id:
            self._push(result.incident_id)
