"""Troubles for a device whose identity looks shared: it reconnects unusually often,
or its agent reports that another connection took over its MQTT session.

The broker binds each client id to its account, so one device's password can no
longer push central or another device off. What it cannot stop is the same account
used twice: a cloned SD card, a replaced Pi still powered on, stolen credentials.
The two connections then keep taking the session from each other, and each
reconnect publishes a retained ``online`` status. Two signs reach central:

* more than ``reconnect_alert_count`` ``online`` statuses within
  ``reconnect_window_s`` (``[supervision]``), counted by the statuses' own times, so
  a burst of statuses queued while central was down counts as what it was;
* a heartbeat whose ``session_takeovers`` grew: the agent was disconnected with
  MQTT 5 reason code 0x8E "session taken over" (brokers that send it).

Either raises one trouble at the device's station: zone ``identity:<id>`` in the
venue's open trouble incident (joined, or a new one), pushed to its consoles, with
the cause in the incident log. While that zone is in an open incident, the same
device raises nothing more; as with every trouble, the incident stays until an
officer resolves it. Counts live in memory: a central restart starts them afresh.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from central import incidents
from central.db import iso
from central.supervision_config import SupervisionConfig

logger = logging.getLogger(__name__)

TROUBLE_KIND = "device_identity"


def zone_of(device_id: str) -> str:
    """The incident zone of a device's identity trouble."""
    return f"identity:{device_id}"


class ReconnectWatch:
    """Counts each device's reconnects and reported takeovers; raises the trouble.

    Its methods run inside ingest's write transaction (the writer thread) and return
    the id of an incident opened or changed, for ingest to push after the commit.
    """

    def __init__(self, config: SupervisionConfig) -> None:
        self.alert_count = config.reconnect_alert_count
        self.window = timedelta(seconds=config.reconnect_window_s)
        self._online: dict[str, deque[datetime]] = {}
        self._takeovers: dict[str, int] = {}
        #: True while central's own link to the broker failed or is settling (central
        #: wires :meth:`central.supervision.Supervisor.doubting`): every device reconnects
        #: after a broker restart, and that is no sign of a shared identity.
        self.excused: Callable[[datetime], bool] | None = None

    def online(self, db: Database, route: dict[str, Any], ts: datetime,
               now: datetime) -> int | None:
        """An ``online`` status written by the device at ``ts``."""
        if self.excused is not None and self.excused(now):
            return None  # the broker restarted: everybody reconnects, not counted
        device_id = route["device_id"]
        seen = self._online.setdefault(device_id, deque())
        seen.append(ts)
        newest = max(seen)
        while seen and seen[0] < newest - self.window:
            seen.popleft()
        if len(seen) <= self.alert_count:
            return None
        count = len(seen)
        seen.clear()  # the next alert needs a new run of reconnects
        minutes = self.window.total_seconds() / 60
        text = (f"device reconnects unusually often: {count} times in {minutes:g} min — "
                "duplicate device or stolen credentials?")
        return self._raise(db, route, now, "reconnecting", text,
                           {"reconnects": count, "window_s": self.window.total_seconds()})

    def takeovers(self, db: Database, route: dict[str, Any], reported: int,
                  now: datetime) -> int | None:
        """A heartbeat's ``session_takeovers`` (since the agent started)."""
        device_id = route["device_id"]
        before = self._takeovers.get(device_id, 0)
        self._takeovers[device_id] = reported
        if reported <= before:  # unchanged, or the agent restarted and counts afresh
            return None
        text = (f"device reports its connection was taken over {reported} time(s) by another "
                "connection with its credentials — duplicate device or stolen credentials?")
        return self._raise(db, route, now, "taken_over", text, {"session_takeovers": reported})

    def _raise(self, db: Database, route: dict[str, Any], now: datetime, label: str,
               text: str, facts: dict[str, Any]) -> int | None:
        device_id, venue_id = route["device_id"], route["venue_id"]
        zone = zone_of(device_id)
        at = iso(now)
        found = incidents.find_open(db, venue_id, "trouble")
        if found is not None and zone in found["zones"]:
            logger.info("device %s: %s (trouble already open in incident %s)", device_id,
                        text, found["id"])
            return None
        incident_id, action = incidents.raise_trouble(
            db, venue_id=venue_id, station_id=route["station_id"], kind=TROUBLE_KIND,
            zone=zone, label=label, first_event_id=f"identity:{device_id}:{at}", at=at)
        incidents.log_action(db, incident_id, at, incidents.SYSTEM_ACTOR, text,
                             {"device_id": device_id, **facts, "incident": action})
        logger.warning("device %s: %s: trouble incident %s at station %s", device_id, text,
                       incident_id, route["station_id"])
        return int(incident_id)
