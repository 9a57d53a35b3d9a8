"""Venue agents' failover alarms arriving by SMS at central's modem (issue 13).

An SMS starting ``AL1 `` claims to be a failover alarm (:mod:`alarmlink.wire.failover_sms`).
Its HMAC is verified with the device's failover key (table ``failover_keys``, set by
``alarmlink central failover-key``); then the event goes through ingest exactly as if it
had come over MQTT (same topic, same deduplication on ``event_id``): it opens the
incident now, and when the agent's link returns and it resends the event, it is stored
once. Anything that does not verify (malformed, unknown device, no key, bad HMAC) is
rejected: ``inbound_sms`` (result ``rejected``) and ``dead_letters`` keep it with the
reason, and nothing is ingested.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from sqlite_utils import Database

from alarmlink.wire import ContractError, Topics, decode_failover, encode, is_failover
from alarmlink.wire.failover_sms import device_of
from central import dead_letters
from central.db import Writer, iso, query_one, write_tx
from central.escalation import inbound

logger = logging.getLogger(__name__)


class FailoverKeyError(ValueError):
    """A key that cannot be set (unknown device)."""


def set_key(db: Database, device_id: str, now: datetime, key: str | None = None) -> str:
    """Store (or replace) the device's failover key; returns it."""
    key = key or secrets.token_hex(32)
    with write_tx(db):
        if query_one(db, "SELECT 1 FROM devices WHERE id = ?", [device_id]) is None:
            raise FailoverKeyError(f"no device {device_id!r}: add it with `alarmlink central "
                                   "registry add-device`")
        db.execute("INSERT INTO failover_keys (device_id, key, created_at) VALUES (?, ?, ?) "
                   "ON CONFLICT (device_id) DO UPDATE SET key = excluded.key, "
                   "created_at = excluded.created_at", [device_id, key, iso(now)])
    logger.info("failover key of %s set", device_id)
    return key


def key_for(db: Database, device_id: str) -> bytes | None:
    row = query_one(db, "SELECT key FROM failover_keys WHERE device_id = ?", [device_id])
    return None if row is None else str(row["key"]).encode()


def _reject(db: Database, sender: str, text: str, device: str | None, reason: str,
            now: datetime, policy: dead_letters.Policy) -> None:
    inbound.record(db, sender, text, "rejected", reason, now)
    known = device if device and query_one(db, "SELECT 1 FROM devices WHERE id = ?",
                                           [device]) else None
    dead_letters.store(db, f"sms/{sender}", text.encode(), reason, known, now, policy=policy)


class FailoverIngest:
    """The escalator's ``failover`` callback: True when the SMS was a failover alarm
    (ingested or rejected), False for any other SMS."""

    def __init__(self, writer: Writer, handle: Callable[[str, bytes], None], topics: Topics,
                 clock: Callable[[], datetime],
                 dead_letter_policy: dead_letters.Policy | None = None) -> None:
        self.writer = writer
        self.handle = handle  # the ingestor's handle(topic, payload)
        #: The budget its refused SMS count against (the service passes the ingestor's).
        self.dead_letter_policy = dead_letter_policy or dead_letters.Policy()
        self.topics = topics
        self.clock = clock

    def __call__(self, sender: str, text: str) -> bool:
        if not is_failover(text):
            return False
        device = device_of(text)
        key = self.writer.call(key_for, device) if device else None
        if key is None:
            reason = (f"failover SMS from unknown device {device!r} or one without a failover "
                      "key (set it with `alarmlink central failover-key`)")
            self.writer.call(_reject, sender, text, device, reason, self.clock(),
                             self.dead_letter_policy)
            return True
        try:
            event = decode_failover(text, key)
        except ContractError as exc:
            self.writer.call(_reject, sender, text, device, str(exc), self.clock(),
                             self.dead_letter_policy)
            return True
        self.handle(self.topics.event(event.device_id), encode(event))
        self.writer.call(inbound.record, sender, text, "accepted",
                         f"failover alarm {event.event_id} from {event.device_id}", self.clock())
        logger.warning("failover alarm %s from %s arrived by SMS from %s", event.event_id,
                       event.device_id, sender)
        return True
