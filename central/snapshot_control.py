"""Officers' requests for pictures: "snapshot now", "live view" and "stop".

Each request becomes one ``snapshot`` :class:`~alarmlink.wire.Command` per
device of the incident's venue (stored in ``commands`` first, published QoS 1,
never retained; see :mod:`central.commands`), and one ``incident_log`` entry
saying who asked. The frames come back on ``snapshot/{event_id}``, where
``event_id`` is the device's latest event in the incident (or the incident's
first event for a device that has none), so they attach to the incident.

Limits: only open incidents; live view bounded by ``[snapshots] live_max_s``
and ``live_max_fps`` (the device clamps again to its own ``[camera]`` limits
and says what it granted in its ``cmd/result``); "snapshot now" at most
``live_max_fps`` times a second per incident. Resolving the incident ends a
live view: central sends ``stop``, and the device also stops on the
``resolved`` receipt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlite_utils import Database

from alarmlink import wire
from central import incidents
from central.commands import build_command, store_command
from central.db import OPEN_STATUSES, iso, query_one, write_tx
from central.snapshot_config import SnapshotsConfig

logger = logging.getLogger(__name__)

Action = Literal["now", "live", "stop"]


class SnapshotRequestError(ValueError):
    """A request that cannot be sent; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SnapshotControl:
    """Sends snapshot commands for incidents; remembers live views until they end."""

    def __init__(self, config: SnapshotsConfig, topics: wire.Topics,
                 publish: Callable[[str, bytes], None], clock: Callable[[], datetime]) -> None:
        self.config = config
        self.topics = topics
        self.publish = publish
        self.clock = clock
        #: incident id -> when its live view ends
        self.live_until: dict[int, datetime] = {}
        self._last_now: dict[int, datetime] = {}

    def live_state(self, incident_id: int) -> str | None:
        until = self.live_until.get(incident_id)
        return iso(until) if until is not None and until > self.clock() else None

    def request(self, db: Database, incident_id: int, action: Action, actor: str, *,
                live_s: int = 60, fps: float = 1.0) -> dict[str, Any]:
        """Send ``action`` to the venue's devices. Raises :class:`SnapshotRequestError`."""
        now = self.clock()
        row = query_one(db, "SELECT venue_id, status, first_event_id FROM incidents "
                            "WHERE id = ?", [incident_id])
        if row is None:
            raise SnapshotRequestError(404, f"incident {incident_id} does not exist")
        venue_id, status = row["venue_id"], row["status"]
        if action != "stop" and status not in OPEN_STATUSES:
            raise SnapshotRequestError(409, f"incident {incident_id} is {status}: pictures "
                                            "can be requested only while it is open")
        granted: dict[str, Any] = {}
        if action == "live":
            live_s = min(live_s, self.config.live_max_s)
            fps = min(fps, self.config.live_max_fps)
            granted = {"live_s": live_s, "fps": fps}
        elif action == "now":
            last = self._last_now.get(incident_id)
            if last is not None and (now - last).total_seconds() < 1 / self.config.live_max_fps:
                raise SnapshotRequestError(429, "snapshot requested too often: at most "
                                                f"{self.config.live_max_fps:g} a second")
            self._last_now[incident_id] = now
        devices = self._targets(db, incident_id, venue_id, row["first_event_id"])
        if not devices:
            raise SnapshotRequestError(409, f"venue {venue_id} has no registered device")
        sent = []
        for device_id, event_id in devices:
            args = wire.SnapshotRequest(action=action, event_id=event_id,
                                        incident_id=incident_id, live_s=live_s, fps=fps)
            command = build_command(wire.CommandName.SNAPSHOT, args.to_args(), actor,
                                    self.config.command_ttl_s, now)
            store_command(db, device_id, command, now)
            self.publish(self.topics.cmd(device_id), wire.encode(command))
            sent.append({"device_id": device_id, "event_id": event_id,
                         "cmd_id": command.cmd_id})
        if action == "live":
            self.live_until[incident_id] = now + timedelta(seconds=live_s)
        elif action == "stop":
            self.live_until.pop(incident_id, None)
        with write_tx(db):
            incidents.log_action(db, incident_id, iso(now), actor, f"snapshot_{action}", granted)
        logger.info("incident %s: snapshot %s by %s sent to %s", incident_id, action, actor,
                    ", ".join(d["device_id"] for d in sent))
        return {"incident_id": incident_id, "action": action, "commands": sent,
                "live_until": self.live_state(incident_id), **granted}

    def incident_resolved(self, db: Database, incident_id: int) -> None:
        """End a live view still running for ``incident_id`` (call after resolve)."""
        self._last_now.pop(incident_id, None)
        until = self.live_until.pop(incident_id, None)
        if until is None or until <= self.clock():
            return
        try:
            self.request(db, incident_id, "stop", "system")
        except SnapshotRequestError as exc:
            logger.warning("could not stop the live view of incident %s: %s", incident_id, exc)

    @staticmethod
    def _targets(db: Database, incident_id: int, venue_id: str,
                 first_event_id: str) -> list[tuple[str, str]]:
        """(device id, event id for its frames) for every device of the venue."""
        latest = {r["device_id"]: r["event_id"] for r in db.query(
            "SELECT device_id, max(event_id) AS event_id FROM events WHERE incident_id = ? "
            "GROUP BY device_id", [incident_id])}
        devices = [r["id"] for r in db.query("SELECT id FROM devices WHERE venue_id = ? "
                                             "ORDER BY id", [venue_id])]
        return [(device_id, latest.get(device_id, first_event_id)) for device_id in devices]
