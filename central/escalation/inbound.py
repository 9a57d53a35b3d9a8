"""Inbound SMS at central's modem: acknowledgements from roster phones, and the venue
agents' failover alarms (``AL1 ...``, see :mod:`central.escalation.failover`).

A reply ``1`` (or ``ACK 123`` / ``确认 123``) from a user's registered mobile acknowledges
as that user: ``1`` the newest open incident that user was notified of; ``ACK n``
incident ``n`` if they were notified of it. Anything else (an unknown number, an
unknown command, an incident the sender was never told of) is stored in ``inbound_sms``
as ``rejected`` with the reason and logged; nothing else happens.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from alarmlink.gsm import normalize_number
from central.db import OPEN_STATUSES, iso, query_one

logger = logging.getLogger(__name__)

_ACK = re.compile(r"^\s*(?:1|(?:ACK|确认|收到)\s*#?\s*(\d{1,9}))\s*$", re.IGNORECASE)
_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)


@dataclass(frozen=True)
class AckRequest:
    incident_id: int
    username: str


def record(db: Database, sender: str, text: str, result: str, reason: str,
           now: datetime) -> None:
    db.execute("INSERT INTO inbound_sms (received_at, sender, text, result, reason) VALUES "
               "(?, ?, ?, ?, ?)", [iso(now), sender, text[:1000], result, reason])
    if result == "rejected":
        logger.warning("inbound SMS from %s rejected: %s", sender, reason)


def user_by_mobile(db: Database, sender: str) -> str | None:
    wanted = normalize_number(sender)
    for row in db.query("SELECT username, mobile FROM users WHERE mobile != '' AND "
                        "disabled_at IS NULL"):
        if normalize_number(row["mobile"]) == wanted:
            return str(row["username"])
    return None


def parse_ack(db: Database, sender: str, text: str, now: datetime) -> AckRequest | None:
    """The acknowledgement an SMS asks for, or None (recorded as rejected with why)."""
    match = _ACK.match(text)
    if match is None:
        record(db, sender, text, "rejected", "not an acknowledgement (reply 1 or ACK <id>)",
               now)
        return None
    username = user_by_mobile(db, sender)
    if username is None:
        record(db, sender, text, "rejected", "unknown number: no active user has this mobile",
               now)
        return None
    wanted = match.group(1)
    row = query_one(
        db, "SELECT n.incident_id FROM notifications n JOIN incidents i ON i.id = n.incident_id "
            f"WHERE n.recipient = ? AND i.status IN ({_OPEN})"
            + (" AND n.incident_id = ?" if wanted else "")
            + " ORDER BY n.id DESC LIMIT 1",
        [username, int(wanted)] if wanted else [username])
    if row is None:
        what = f"incident {wanted}" if wanted else "any open incident"
        record(db, sender, text, "rejected", f"{username} was not notified of {what}", now)
        return None
    record(db, sender, text, "accepted", f"acknowledgement by {username}", now)
    return AckRequest(int(row["incident_id"]), username)
