"""A flooding device raises ONE trouble at its station, and is throttled meanwhile.

Two budgets per device (``[limits]``, central/limits_config.py) see a flood: non-alarm
traffic (heartbeats, status, command results: :class:`central.ingest_queue.Budgets` on
paho's thread) and dead letters (refused messages: :mod:`central.dead_letters` on the
writer). Over a budget, the excess is dropped and counted, and the budget calls
:meth:`FloodWatch.flooding` (at most once a minute per device). That queues a writer job
which opens, or joins, the venue's trouble incident with zone ``flood:<device id>``,
logs the cause in the incident log and pushes the incident to the consoles. While that
zone is in an open incident the device raises nothing more, however long it floods; as
with every trouble, the incident stays until an officer resolves it. The device's
alarms are never dropped, and round-robin between devices keeps them from waiting
behind its flood (central/ingest_queue.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from central import incidents
from central.db import Writer, WriterClosed, iso, write_tx
from central.registry import device_route

logger = logging.getLogger(__name__)

TROUBLE_KIND = "device_flood"


def zone_of(device_id: str) -> str:
    """The incident zone of a device's flood trouble."""
    return f"flood:{device_id}"


class FloodWatch:
    """Raises the flood trouble on the writer. :meth:`flooding` is safe from any thread."""

    def __init__(self, writer: Writer, notify: Callable[[dict[str, Any]], None],
                 clock: Callable[[], datetime]) -> None:
        self.writer = writer
        self.notify = notify
        self.clock = clock
        #: Troubles raised since start (tests and /healthz-style counters).
        self.raised = 0

    def flooding(self, device_id: str, what: str, dropped: int) -> None:
        """``device_id`` is over its budget for ``what``; ``dropped`` so far."""
        if not device_id:
            return
        try:
            self.writer.submit(self._raise, device_id, what, dropped)
        except WriterClosed:
            logger.info("device %s floods central (%s) while central stops", device_id, what)

    def _raise(self, db: Database, device_id: str, what: str, dropped: int) -> None:
        route = device_route(db, device_id)
        if route is None:  # not in the registry: its messages are dead letters, counted
            return
        venue_id, zone, at = route["venue_id"], zone_of(device_id), iso(self.clock())
        text = (f"device floods central: {what} over its budget are dropped ({dropped} so "
                "far); its alarms still pass — faulty device or configuration?")
        with write_tx(db):
            found = incidents.find_open(db, venue_id, "trouble")
            if found is not None and zone in found["zones"]:
                return  # once per flood, not per message
            incident_id, action = incidents.raise_trouble(
                db, venue_id=venue_id, station_id=route["station_id"], kind=TROUBLE_KIND,
                zone=zone, label="flooding", first_event_id=f"flood:{device_id}:{at}", at=at)
            incidents.log_action(db, incident_id, at, incidents.SYSTEM_ACTOR, text,
                                 {"device_id": device_id, "what": what, "dropped": dropped,
                                  "incident": action})
        self.raised += 1
        logger.warning("device %s: %s: trouble incident %s at station %s", device_id, text,
                       incident_id, route["station_id"])
        incident = incidents.get_incident(db, int(incident_id))
        if incident is not None:
            try:
                self.notify(incident)
            except Exception:  # an injected callback must not undo the committed trouble
                logger.exception("live notification for incident %s failed", incident_id)
