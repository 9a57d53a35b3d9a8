"""Device supervision: a device that cannot be heard becomes a trouble at its station.

The three states (``up``, ``down``, ``trouble``), dropouts and restores are described in
:mod:`central.supervision_rules`, beside the rules that move a device between them.

Central judges silence only while it can hear the broker itself: while its own
MQTT connection is down, or for ``silence_s`` after it comes back, nobody is
declared silent (that would be central's outage, not the devices'). For the same
reason a last will noted from shortly before central lost the broker until ``silence_s``
after it hears it again counts as silence (a stopping broker publishes every device's
will): :class:`central.supervision_link.LinkWatch` keeps that window.
:class:`Supervisor` runs on the writer thread (``CentralService`` schedules it from the
event loop every ``check_interval_s``; the loop only awaits it); :func:`record_status`
runs in ingest's transaction. The pure rules (:func:`decide`, :func:`deadline`,
:func:`record_status`) are in :mod:`central.supervision_rules`.

No sweeps: a pass never walks the whole fleet (issue 17). It looks at

* the devices whose silence deadline has come, from a heap of deadlines
  (``max(last heard, listening since) + silence_s``, or a down device's trouble time);
  a device heard since is re-read once and its deadline pushed back (lazily, so a
  heartbeat costs supervision nothing);
* the devices whose status changed since the last pass (``supervision.changed_at``,
  indexed: :func:`record_status` touches it on every status message);
* the devices that are down or in trouble and were heard again since the last pass
  (:meth:`Supervisor.heard` notes them in memory; a status is found by ``changed_at``).

So the work per pass grows with the devices that change, not with the fleet. A full walk
builds the heap at the first pass, when central starts hearing the broker again, and
every :data:`RESCAN_S` (registry edits: a new device, another class).
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from central import incidents
from central.db import OPEN_STATUSES, iso, query_one, write_tx
from central.supervision_board import supervision_board
from central.supervision_config import DeviceClass, SupervisionConfig
from central.supervision_link import LinkWatch
from central.supervision_rules import (
    REASONS,
    SYSTEM_ACTOR,
    TROUBLE_KIND,
    Decision,
    DeviceView,
    deadline,
    decide,
    record_status,
    zone_of,
)

__all__ = ["REASONS", "TROUBLE_KIND", "Decision", "DeviceView", "Supervisor", "deadline",
           "decide", "record_status", "zone_of"]

logger = logging.getLogger(__name__)

_VIEW_SQL = """
SELECT d.id AS device_id, d.venue_id, v.station_id, d.device_class, s.availability,
       s.last_seen, coalesce(p.state, 'up') AS state, p.reason, p.down_since, p.incident_id
FROM devices d JOIN venues v ON v.id = d.venue_id
LEFT JOIN device_state s ON s.device_id = d.id
LEFT JOIN supervision p ON p.device_id = d.id
"""


#: Seconds between full walks that rebuild the deadline heap (registry edits).
RESCAN_S = 300.0
#: Most devices judged in one pass; the rest wait a second (a pass holds the writer, and
#: an alarm waits for it).
MAX_PER_PASS = 500
#: Devices a pass judges before it may stop for a waiting alarm (so it always moves on).
MIN_BEFORE_YIELD = 8
#: Devices whose rows one read fetches: a pass may stop for an alarm between reads (one
#: read of all 500 held the writer, and an alarm, for 20-40 ms with 10,000 devices).
VIEW_CHUNK = 32
#: Deadlines a pass pops before it may stop for a waiting alarm (10,000 devices heard at
#: once move 10,000 deadlines in one pass).
POPS_BEFORE_YIELD = 256
#: Status changes are read from this long before the last pass (clock steps, same instant).
CHANGED_MARGIN = timedelta(seconds=2)



class Supervisor:
    """Judges the registered devices that may need it; opens and restores ``device
    offline`` troubles."""

    def __init__(self, db: Database, config: SupervisionConfig, clock: Callable[[], datetime],
                 *, clock_skew_threshold_s: float = 30.0) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.clock_skew_threshold_s = clock_skew_threshold_s
        #: Whether central hears the devices, and the doubt window for last wills.
        self.link = LinkWatch(config, clock)
        #: The newest ``changed_at`` a pass has read (the next reads from there on).
        self._changed_mark: str | None = None
        self.checked_at: datetime | None = None
        #: (due, device_id) min-heap; stale entries (an older due) are skipped.
        self._heap: list[tuple[datetime, str]] = []
        self._due: dict[str, datetime] = {}
        self._rescan_at: datetime | None = None  # None: walk everything at the next pass
        #: Devices the last pass looked at (the benchmarks and tests read it).
        self.examined = 0
        #: device -> silence_s, for devices up and online (their deadline moves with
        #: :meth:`heard` without reading the database).
        self._silence: dict[str, float] = {}
        #: Devices down or in trouble as last judged, and those of them heard since (a
        #: heartbeat): the next pass judges these, not every down device (a broker
        #: restart leaves thousands down for a while).
        self._down: set[str] = set()
        self._wired = False  # ingest calls heard() (central does: central/service.py)
        self._woken: set[str] = set()
        #: device -> when ingest last heard it (:meth:`heard`, on the writer thread).
        self._heard: dict[str, datetime] = {}
        #: True while an alarm waits for the writer (the ingest queue says): a pass stops
        #: early and commits; the devices it did not judge come first in the next one.
        self.should_yield: Callable[[], bool] | None = None
        self._deferred: set[str] = set()

    def heard(self, device_id: str, at: datetime) -> None:
        """Ingest heard the device (a heartbeat): its silence deadline moves, in memory.

        A device with no deadline yet (heard before any status, e.g. a DC-09 panel, which
        never sends one) is judged at the next pass, which gives it its deadline."""
        self._heard[device_id] = at
        self._wired = True
        if device_id in self._down:  # heard again while down or in trouble: judge it
            self._woken.add(device_id)
        if device_id not in self._due:
            self._due[device_id] = at
            heapq.heappush(self._heap, (at, device_id))

    @property
    def listening_since(self) -> datetime | None:
        """Since when central hears the devices (None: it does not now)."""
        return self.link.listening_since

    @property
    def doubt_from(self) -> datetime | None:
        """Last wills noted since then are doubtful (central lost the broker around them)."""
        return self.link.doubt_from

    def set_listening(self, listening: bool, epoch: int | None = None, *,
                      lag_s: float = 0.0) -> None:
        """Whether central itself hears the broker now (its MQTT link is up).

        ``epoch`` counts central's connections to the broker (:attr:`MqttBridge.epoch`): a
        new one means central lost the broker and came back, even between two passes.
        From shortly before a loss until ``silence_s`` after the reconnect, a last will
        counts as silence (:class:`central.supervision_link.LinkWatch`).

        ``lag_s``: how far behind ingest is (:attr:`IngestQueue.lag_s`). More than
        :data:`~central.supervision_link.BEHIND_S` counts as not hearing, until it is under
        :data:`~central.supervision_link.CAUGHT_UP_S`: a heartbeat still waiting in
        central's own queue is not the device's silence."""
        if self.link.update(listening, epoch, lag_s, self.checked_at):
            self._rescan_at = None

    def doubting(self, now: datetime) -> bool:
        """Central lost the broker lately (:meth:`LinkWatch.doubting`)."""
        return self.link.doubting(now)

    def tick(self) -> list[dict[str, Any]]:
        """Judge the devices that may need it; return the incidents opened or changed."""
        now = self.clock()
        changed: list[int] = []
        # one commit for the pass, not one (with its fsync) per device: a storm's pass may
        # change thousands, and an alarm waits for the writer meanwhile
        with write_tx(self.db):
            ids = self._candidates(now)
            chunk: dict[str, DeviceView] = {}
            for k, device_id in enumerate(ids):
                if k >= MIN_BEFORE_YIELD and self.should_yield is not None \
                        and self.should_yield():  # an alarm waits for the writer: let it
                    self._deferred.update(ids[k:])  # first in the next pass
                    break
                if k % VIEW_CHUNK == 0:  # read a few at a time: the pass may stop between
                    chunk = self._views(ids[k:k + VIEW_CHUNK])
                view = chunk.get(device_id)
                if view is None:  # removed from the registry meanwhile
                    continue
                _name, cls, _known = self._class(view)
                if decide(view, cls, now, self.listening_since, self.doubt_from) is not None:
                    incident_id = self._apply(view.device_id, now)
                    if incident_id is not None:
                        changed.append(incident_id)
                    row = query_one(self.db, _VIEW_SQL + " WHERE d.id = ?", [view.device_id])
                    if row is None:
                        self._due.pop(view.device_id, None)
                        continue
                    view = DeviceView.from_row(row)
                self._schedule(view, cls)
        self.checked_at = now
        found = (incidents.get_incident(self.db, i) for i in dict.fromkeys(changed))
        return [incident for incident in found if incident is not None]

    def _schedule(self, view: DeviceView, cls: DeviceClass) -> None:
        due = deadline(view, cls, self.listening_since, self.doubt_from)
        if view.state == "up" and view.availability == "online":
            self._silence[view.device_id] = cls.silence_s
        else:
            self._silence.pop(view.device_id, None)
        if view.state == "up":
            self._down.discard(view.device_id)
        else:
            self._down.add(view.device_id)
        if due is None:
            self._due.pop(view.device_id, None)
        elif self._due.get(view.device_id) != due:
            self._due[view.device_id] = due
            heapq.heappush(self._heap, (due, view.device_id))

    def _moved(self, device_id: str, now: datetime) -> datetime | None:
        """The later deadline of an up device heard since it was scheduled (None: judge it)."""
        silence = self._silence.get(device_id)
        heard = self._heard.get(device_id)
        if silence is None or heard is None or self.listening_since is None:
            return None
        due = max(heard, self.listening_since) + timedelta(seconds=silence, microseconds=1)
        return due if due > now else None

    def _candidates(self, now: datetime) -> list[str]:
        """The devices to judge this pass: all of them on a rescan, else only what is due."""
        if self._rescan_at is None or now >= self._rescan_at or (
                self.checked_at is not None and now < self.checked_at):  # the clock stepped
            self._rescan_at = now + timedelta(seconds=RESCAN_S)
            self._heap, self._due, self._silence = [], {}, {}
            self._changed_mark = None
            self._down, self._woken = set(), set()
            ids = [r["id"] for r in self.db.query("SELECT id FROM devices")]
            if len(ids) <= MAX_PER_PASS:
                self.examined = len(ids)
                return ids
            # a large fleet: every device due now, judged MAX_PER_PASS a pass (a walk of
            # 10,000 at once held the writer, and an alarm, for up to a second)
            self._due = dict.fromkeys(ids, now)
            self._heap = [(now, device_id) for device_id in ids]
            heapq.heapify(self._heap)
        wanted: set[str] = set()
        popped = 0
        # at most a pass's worth; the rest stay due in the heap for the next pass (a fleet
        # due at once was all popped, sorted and pushed back, every pass: 10-30 ms)
        while self._heap and self._heap[0][0] <= now and len(wanted) < MAX_PER_PASS:
            popped += 1
            if popped % POPS_BEFORE_YIELD == 0 and self.should_yield is not None \
                    and self.should_yield():  # deadlines that only move: an alarm first
                break
            due, device_id = heapq.heappop(self._heap)
            if self._due.get(device_id) != due:
                continue  # stale: rescheduled since
            del self._due[device_id]
            moved = self._moved(device_id, now)
            if moved is not None:  # heard since: only the deadline moves
                self._due[device_id] = moved
                heapq.heappush(self._heap, (moved, device_id))
            else:
                wanted.add(device_id)
        since = iso((self.checked_at or now) - CHANGED_MARGIN)
        if self._changed_mark is not None and self._changed_mark > since:
            since = self._changed_mark  # read before: not again (a storm changes thousands)
        for r in self.db.query("SELECT device_id, changed_at FROM supervision "
                               "WHERE changed_at >= ?", [since]):
            wanted.add(r["device_id"])
            if self._changed_mark is None or r["changed_at"] > self._changed_mark:
                self._changed_mark = r["changed_at"]
        wanted.update(self._deferred)  # a pass that stopped for an alarm left them
        self._deferred = set()
        if self._wired:  # down or in trouble, and a heartbeat came since
            wanted.update(self._woken)
            self._woken = set()
        else:  # nobody tells us of heartbeats: every down device, from the database
            wanted.update(r["device_id"] for r in self.db.query(
                "SELECT device_id FROM supervision WHERE state IN ('down', 'trouble')"))
        if len(wanted) > MAX_PER_PASS:  # a fleet that connected together: spread the work
            later = sorted(wanted)[MAX_PER_PASS:]
            wanted.difference_update(later)
            soon = now + timedelta(seconds=1)
            for device_id in later:
                self._due[device_id] = soon
                heapq.heappush(self._heap, (soon, device_id))
        self.examined = len(wanted)
        return sorted(wanted)

    def _views(self, ids: list[str]) -> dict[str, DeviceView]:
        """The devices' views (a device removed from the registry has none), one read."""
        return {r["device_id"]: DeviceView.from_row(r) for r in self.db.query(
            _VIEW_SQL + f" WHERE d.id IN ({', '.join('?' for _ in ids)})", ids)}

    def _class(self, view: DeviceView) -> tuple[str, DeviceClass, bool]:
        return self.config.class_of(view.device_class)

    def _apply(self, device_id: str, now: datetime) -> int | None:
        """Re-read the device inside a write transaction and act (ingest may have moved it)."""
        incident_id: int | None = None
        with write_tx(self.db):
            for _ in range(2):  # "down" may be followed at once by "trouble"
                row = query_one(self.db, _VIEW_SQL + " WHERE d.id = ?", [device_id])
                if row is None:  # removed from the registry meanwhile
                    break
                view = DeviceView.from_row(row)
                name, cls, _known = self._class(view)
                decision = decide(view, cls, now, self.listening_since, self.doubt_from)
                if decision is None:
                    break
                result = self._act(view, decision, name, cls, now)
                incident_id = result if result is not None else incident_id
                if decision.action != "down":
                    break
        return incident_id

    def _act(self, view: DeviceView, decision: Decision, class_name: str, cls: DeviceClass,
             now: datetime) -> int | None:
        at = iso(now)
        if decision.action == "down":
            assert decision.down_since is not None
            self.db.execute(
                "INSERT INTO supervision (device_id, state, reason, down_since, changed_at) "
                "VALUES (?, 'down', ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                "state = 'down', reason = excluded.reason, down_since = excluded.down_since, "
                "changed_at = excluded.changed_at",
                [view.device_id, decision.reason, iso(decision.down_since), at])
            logger.info("device %s is down (%s) since %s", view.device_id, decision.reason,
                        iso(decision.down_since))
            return None
        if decision.action == "up":
            down_for = (now - view.down_since).total_seconds() if view.down_since else None
            self.db.execute("UPDATE supervision SET state = 'up', reason = NULL, "
                            "down_since = NULL, dropouts = dropouts + 1, last_dropout_s = ?, "
                            "changed_at = ? WHERE device_id = ?", [down_for, at, view.device_id])
            logger.info("device %s heard again within its grace: no trouble", view.device_id)
            return None
        if decision.action == "trouble":
            incident_id = self._open_trouble(view, class_name, cls, at)
            self.db.execute("UPDATE supervision SET state = 'trouble', incident_id = ?, "
                            "changed_at = ? WHERE device_id = ?",
                            [incident_id, at, view.device_id])
            return incident_id
        restored = self._restore(view, now)
        self.db.execute("UPDATE supervision SET state = 'up', reason = NULL, down_since = NULL, "
                        "incident_id = NULL, changed_at = ? WHERE device_id = ?",
                        [at, view.device_id])
        return restored

    def _open_trouble(self, view: DeviceView, class_name: str, cls: DeviceClass,
                      at: str) -> int:
        label = "stopped" if view.reason == "stopped" else "offline"
        zone = zone_of(view.device_id)
        detail = {"device_id": view.device_id, "reason": REASONS.get(view.reason or "", ""),
                  "last_heard": iso(view.last_seen) if view.last_seen else None,
                  "down_since": iso(view.down_since) if view.down_since else None,
                  "class": class_name, "bound_s": cls.bound_s, "grace_s": cls.grace_s}
        incident_id, action = incidents.raise_trouble(
            self.db, venue_id=view.venue_id, station_id=view.station_id, kind=TROUBLE_KIND,
            zone=zone, label=label, first_event_id=f"supervision:{view.device_id}", at=at)
        incidents.log_action(self.db, incident_id, at, SYSTEM_ACTOR, f"device {label}",
                             {**detail, "incident": action})
        logger.warning("device %s %s (%s): trouble incident %s at station %s", view.device_id,
                       label, view.reason, incident_id, view.station_id)
        return int(incident_id)

    def _restore(self, view: DeviceView, now: datetime) -> int | None:
        if view.incident_id is None:
            return None
        at = iso(now)
        down_for = (now - view.down_since).total_seconds() if view.down_since else None
        row = query_one(self.db, "SELECT status, zones FROM incidents WHERE id = ?",
                        [view.incident_id])
        if row is None:
            return None
        zones = json.loads(row["zones"])
        zone = zone_of(view.device_id)
        if row["status"] in OPEN_STATUSES and zone in zones:
            zones[zone] = "restored"
        incidents.record_change(self.db, view.incident_id, at, zones=zones, counts_event=False)
        incidents.log_action(self.db, view.incident_id, at, SYSTEM_ACTOR, "device online",
                             {"device_id": view.device_id, "down_for_s": down_for})
        logger.info("device %s back online after %s s: trouble %s restored", view.device_id,
                    "?" if down_for is None else f"{down_for:.1f}", view.incident_id)
        return int(view.incident_id)

    def board(self, db: Database | None = None,
              device_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Supervision fields of every device (or of ``device_ids``), for the device board."""
        return supervision_board(self, db or self.db, device_ids)
