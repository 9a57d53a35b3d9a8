"""Supervision's rules, pure and shared: what a device's state means and when it changes.

:func:`decide` says what supervision must do about one device now, :func:`deadline` when
that answer can next change by time alone, :func:`record_status` notes a status message in
ingest's transaction. :class:`central.supervision.Supervisor` runs the passes (see that
module for the doubt window after central loses the broker, and how a pass finds its
devices without a sweep).

Each device is in one of three supervision states (table ``supervision``):

``up``
    heard recently.
``down``
    not heard: its retained last will ``offline`` arrived (``reason`` offline), it
    stopped cleanly (``stopped``: a deliberately stopped alarm device is still a
    device the station cannot hear), or no message came for its class's
    ``silence_s`` (``silent``: the network ate its traffic, or its main loop hung
    while the TCP connection lived on). ``down_since`` is when the status
    arrived, or when the device was last heard for ``silent``.
``trouble``
    down for longer than its class's ``grace_s``: a ``device offline`` trouble
    (incident category ``trouble``, zone ``device:<id>`` marked ``offline`` or
    ``stopped``) is open at the venue's station and was pushed to its consoles.

A device heard again while ``down`` had a short dropout: counted in
``dropouts``, no trouble (:func:`record_status` sees an ``online`` status at
once, so even a dropout between two checks is counted). A device heard again
while in ``trouble`` restores it: the zone becomes ``restored`` and the change
is pushed. The incident stays in the trouble list until an officer resolves
it: an outage that ended by itself still deserves a phone call to the venue
(someone may have pulled the plug), and a device that flaps at 3 a.m. must not
erase its own trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlite_utils import Database

from alarmlink.wire import Availability
from central import incidents
from central.db import iso, parse_iso, query_one
from central.log_burst import BurstLog
from central.supervision_config import DeviceClass

logger = logging.getLogger(__name__)
#: A broker restart ends thousands of dropouts at once: a summary, not a line each.
_dropout_log = BurstLog(logger, "short dropouts ended")

TROUBLE_KIND = "device_offline"
SYSTEM_ACTOR = incidents.SYSTEM_ACTOR
REASONS = {"offline": "last will: the broker lost the device's connection",
           "silent": "heartbeats stopped (no message within the class's silence_s)",
           "stopped": "the agent was stopped (clean exit): the station cannot hear it"}
Action = Literal["down", "up", "trouble", "restore"]

def zone_of(device_id: str) -> str:
    """The incident zone that stands for a whole device."""
    return f"device:{device_id}"


def record_status(db: Database, device_id: str, state: Availability, now: datetime) -> None:
    """Note a status message in supervision. Ingest calls it inside its transaction."""
    at = iso(now)
    row = query_one(db, "SELECT state, reason, down_since FROM supervision WHERE device_id = ?",
                    [device_id])
    if state == Availability.ONLINE:
        if row is None:  # first connect: supervision starts timing its silence
            db.execute("INSERT INTO supervision (device_id, state, changed_at) "
                       "VALUES (?, 'up', ?)", [device_id, at])
        elif row["state"] != "down":  # the next supervision pass looks at it
            db.execute("UPDATE supervision SET changed_at = ? WHERE device_id = ?",
                       [at, device_id])
        if row is not None and row["state"] == "down":
            down_since = row["down_since"]
            down_for = (now - parse_iso(down_since)).total_seconds() if down_since else None
            db.execute("UPDATE supervision SET state = 'up', reason = NULL, down_since = NULL, "
                       "dropouts = dropouts + 1, last_dropout_s = ?, changed_at = ? "
                       "WHERE device_id = ?", [down_for, at, device_id])
            _dropout_log.log("dropouts", "device %s back online after a short dropout (%s s): "
                             "no trouble", device_id,
                             "?" if down_for is None else f"{down_for:.1f}")
        return
    if row is None:
        db.execute("INSERT INTO supervision (device_id, state, reason, down_since, changed_at) "
                   "VALUES (?, 'down', ?, ?, ?)", [device_id, state.value, at, at])
    elif row["state"] == "up":
        db.execute("UPDATE supervision SET state = 'down', reason = ?, down_since = ?, "
                   "changed_at = ? WHERE device_id = ?", [state.value, at, at, device_id])
    elif row["reason"] == "silent" and state == Availability.OFFLINE:
        # already judged silent: a will adds nothing (and one a restarting broker sends is
        # no news of the device), keep judging it as silence
        db.execute("UPDATE supervision SET changed_at = ? WHERE device_id = ?", [at, device_id])
    else:  # already down or in trouble: keep down_since, take the more specific reason
        db.execute("UPDATE supervision SET reason = ?, changed_at = ? WHERE device_id = ?",
                   [state.value, at, device_id])


@dataclass(frozen=True)
class DeviceView:
    device_id: str
    venue_id: str
    station_id: str
    device_class: str
    availability: str | None
    last_seen: datetime | None
    state: str
    reason: str | None
    down_since: datetime | None
    incident_id: int | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DeviceView:
        return cls(row["device_id"], row["venue_id"], row["station_id"],
                   row["device_class"] or "", row["availability"],
                   parse_iso(row["last_seen"]) if row["last_seen"] else None, row["state"],
                   row["reason"], parse_iso(row["down_since"]) if row["down_since"] else None,
                   row["incident_id"])


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str | None = None
    down_since: datetime | None = None


def decide(view: DeviceView, cls: DeviceClass, now: datetime,
           listening_since: datetime | None,
           doubt_from: datetime | None = None) -> Decision | None:
    """What supervision must do about one device now (None: nothing). Pure.

    ``doubt_from``: since when a last will is doubtful (:func:`doubtful_will`; None: no
    will is, as before central first lost the broker)."""
    if view.availability is None or view.last_seen is None:
        return None  # registered, never connected: nothing to supervise yet
    heard = view.last_seen
    silence = timedelta(seconds=cls.silence_s)
    if view.state == "up":
        if view.availability in ("offline", "stopped"):
            return Decision("down", view.availability, heard)
        if listening_since is not None:
            since = max(heard, listening_since)
            if now - since > silence:
                return Decision("down", "silent", since)
        return None
    down_since = view.down_since or heard
    if view.availability == "online" and heard > down_since:
        return Decision("restore" if view.state == "trouble" else "up")
    if view.state != "down":
        return None
    due = trouble_due(view.reason, down_since, cls, listening_since, doubt_from)
    return Decision("trouble") if due is not None and now >= due else None


def doubtful_will(reason: str | None, down_since: datetime, cls: DeviceClass,
                  listening_since: datetime | None, doubt_from: datetime | None) -> bool:
    """A last will that central noted while its own link to the broker was failing or
    settling: from ``doubt_from`` (shortly before central lost the broker) until
    ``silence_s`` after it heard the broker again. A broker that stops publishes every
    device's will, and a session backlog delivers them after the reconnect: such a will
    says the broker went away, not the device. It counts as silence instead."""
    if reason != "offline" or doubt_from is None or down_since < doubt_from:
        return False
    return listening_since is None or down_since <= listening_since + timedelta(
        seconds=cls.silence_s)


def trouble_due(reason: str | None, down_since: datetime, cls: DeviceClass,
                listening_since: datetime | None,
                doubt_from: datetime | None = None) -> datetime | None:
    """When a device down since ``down_since`` (for ``reason``) becomes a trouble (None:
    not while central cannot hear the broker)."""
    silence = timedelta(seconds=cls.silence_s)
    grace = timedelta(seconds=cls.grace_s)
    if reason == "silent":
        if listening_since is None:
            return None  # central is deaf: its outage, not the device's
        return max(down_since, listening_since) + silence + grace
    if doubtful_will(reason, down_since, cls, listening_since, doubt_from):
        if listening_since is None:
            return None
        # as if the device fell silent when central heard the broker again
        return max(listening_since + silence, down_since) + grace
    return down_since + grace


def deadline(view: DeviceView, cls: DeviceClass, listening_since: datetime | None,
             doubt_from: datetime | None = None) -> datetime | None:
    """When :func:`decide` may next change its answer for ``view`` by time alone (None:
    only a message from the device or a status change can)."""
    if view.availability is None or view.last_seen is None:
        return None
    silence = timedelta(seconds=cls.silence_s)
    if view.state == "up":
        if listening_since is None or view.availability != "online":
            return None
        return max(view.last_seen, listening_since) + silence + timedelta(microseconds=1)
    if view.state != "down":
        return None
    down_since = view.down_since or view.last_seen
    return trouble_due(view.reason, down_since, cls, listening_since, doubt_from)
