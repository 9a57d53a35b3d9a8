"""Group commit in front of ingest: alarms first, fair between devices, PUBACK after commit.

paho's thread only *enqueues* each message (:meth:`IngestQueue.put`); with manual
acknowledgement the broker gets no PUBACK yet. The one writer thread takes everything
waiting (up to :data:`MAX_BATCH`), runs it through :meth:`Ingestor.handle_batch` in ONE
transaction (one fsync), publishes the ``stored`` receipts after the commit, and only then
sends each PUBACK. While a batch commits the next one gathers, so batches grow with the
load and a lone alarm is never held back waiting for company.

Order of taking (:class:`FairQueue`):

1. by channel: events (alarms, troubles, restores) before status and command results,
   before heartbeats, before snapshots;
2. within a channel, round-robin between devices (virtual finish time), so one device's
   flood of thousands of messages cannot delay another device's alarm;
3. within one device and channel, in arrival order (``seq`` order is kept).

A batch holds at most :data:`LOW_BATCH` messages that are not events (a batch that starts
with status messages, which commit with an fsync, up to :data:`STATUS_BATCH`), and a batch that
starts with an event holds events only (so an alarm's transaction never also works
through heartbeats), except right after such a batch left others waiting: then the next
takes up to :data:`LOW_BATCH` of them too, so a stream of events cannot starve them.

Nothing long on the writer makes an alarm wait: an event that arrives while no drain of
its own is queued submits one to the writer's urgent lane
(:meth:`central.db.Writer.submit_urgent`), ahead of supervision passes and officers'
actions; a batch of status or heartbeats stops early and commits when an event waits
(:meth:`IngestQueue.alarm_waiting`, read by ``Ingestor.handle_batch``), and what it did
not handle goes back to its place. Heartbeats and snapshots alone wait :data:`GATHER_S`
for company, so a fleet's heartbeats cost a few transactions a second.

Per-device budgets (:class:`Budgets`) for the non-alarm channels: a device sending
heartbeats, status or command results faster than its budget has the excess acknowledged
and dropped (counted, logged once a minute): they carry no alarm and the next one
replaces them. Events are never dropped.

A device's status replaces its older status still waiting (:meth:`IngestQueue.put`): it
takes the older one's place, the older one is acknowledged at once and ingest only
checks it (a malformed one is a dead letter, an ``online`` one counts as a reconnect:
central/ingest_devices.py). Only statuses: events, heartbeats and the rest are never
coalesced, and an event is never dropped.

A PUBACK is sent only on the connection the message arrived on: after a reconnect the
broker redelivers what was not acknowledged, and ingest deduplicates on ``event_id``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from central.db import Writer, WriterClosed

logger = logging.getLogger(__name__)
#: One line per event with its hops on the system's monotonic clock (received, taken by the
#: writer, committed with receipts sent and pushes handed to the event loop, PUBACKed), at
#: DEBUG: ``alarmlink --debug central.latency central serve ...`` (bench/latency.py uses it).
latency_logger = logging.getLogger("central.latency")

#: Channel -> priority (lower is taken first). Unknown channels go with status.
PRIORITY = {"event": 0, "status": 1, "cmd/result": 1, "heartbeat": 2, "snapshot": 3}
#: Most messages in one transaction.
MAX_BATCH = 500
#: Most messages in a batch that starts with no event (heartbeats, status, snapshots...):
#: an alarm arriving meanwhile waits for at most this many of them, not for MAX_BATCH.
LOW_BATCH = 32
#: The same for a batch that starts with status messages or command results. These
#: commit with an fsync (heartbeat-only batches do not), so after a broker restart the
#: fleet's 10,000 "offline" wills and "online" statuses would take 600 commits in batches
#: of 32 and central would fall a minute behind (and raise offline troubles for devices
#: long back). An alarm arriving meanwhile does not wait for the batch: it stops after
#: a few statuses (:meth:`IngestQueue.alarm_waiting`).
STATUS_BATCH = 256
#: Heartbeats and snapshots alone wait this long (seconds) for company before the writer
#: takes them, so 10,000 devices' heartbeats are a few transactions a second, not hundreds.
GATHER_S = 0.5


@dataclass
class Delivery:
    """One message from the broker, waiting for its commit and then its PUBACK."""

    topic: str
    payload: bytes
    #: Sends the PUBACK (a no-op for QoS 0 or after the connection changed).
    ack: Callable[[], None] = field(default=lambda: None)
    received: float = field(default_factory=time.monotonic)
    #: Older status payloads of the same device this one replaced while they waited
    #: (:meth:`IngestQueue.put`): ingest still counts and checks them, without writing.
    superseded: list[bytes] = field(default_factory=list)
    #: Its place in the :class:`FairQueue` when taken (a batch that yields to an alarm
    #: gives back what it did not handle, in the same places).
    slot: tuple[int, int, int] | None = None


def route_of(topic: str) -> tuple[str, str]:
    """(device id, channel) from ``.../dev/{id}/{channel...}`` without validating it."""
    parts = topic.split("/")
    try:
        at = parts.index("dev")
    except ValueError:
        return "", "?"
    device = parts[at + 1] if len(parts) > at + 1 else ""
    channel = "/".join(parts[at + 2:])
    if channel.startswith("snapshot/"):
        channel = "snapshot"
    return device, channel


class FairQueue:
    """Priority, then per-device round-robin, then arrival. Not thread-safe by itself."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, int, Delivery]] = []
        self._finish: dict[tuple[int, str], int] = {}
        self._vtime: dict[int, int] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def head_priority(self) -> int | None:
        """The priority of what :meth:`take` would take first (None: empty)."""
        return self._heap[0][0] if self._heap else None

    def put(self, priority: int, device: str, item: Delivery) -> None:
        key = (priority, device)
        finish = max(self._vtime.get(priority, 0), self._finish.get(key, 0)) + 1
        self._finish[key] = finish
        heapq.heappush(self._heap, (priority, finish, next(self._seq), item))

    def take(self, limit: int, low_limit: int | None = None) -> list[Delivery]:
        """Up to ``limit`` messages, highest priority first, of which at most ``low_limit``
        are not events (so an alarm arriving meanwhile waits for few heartbeats)."""
        taken: list[Delivery] = []
        low = 0
        while self._heap and len(taken) < limit:
            if self._heap[0][0] > 0:
                if low_limit is not None and low >= low_limit:
                    break
                low += 1
            priority, finish, seq, item = heapq.heappop(self._heap)
            self._vtime[priority] = finish
            item.slot = (priority, finish, seq)
            taken.append(item)
        if not self._heap:  # nothing waits: forget the devices' finish times
            self._finish.clear()
            self._vtime.clear()
        return taken

    def give_back(self, items: list[Delivery]) -> None:
        """Messages taken but not handled go back to the places they were taken from."""
        for item in items:
            assert item.slot is not None
            heapq.heappush(self._heap, (*item.slot, item))


class Budgets:
    """Token buckets per device for non-alarm traffic: ``rate`` per second, ``burst``.

    ``[limits]`` sets them (central/limits_config.py). ``on_flood(device, what, dropped)``
    is called when a device goes over, at most once a minute per device (central raises
    one trouble: central/floods.py). ``what`` names the traffic in logs and troubles.
    """

    def __init__(self, rate: float = 20.0, burst: float = 200.0,
                 clock: Callable[[], float] = time.monotonic, *,
                 what: str = "non-alarm messages",
                 on_flood: Callable[[str, str, int], None] | None = None) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.what = what
        self.on_flood = on_flood
        self._buckets: dict[str, tuple[float, float]] = {}
        #: device -> messages dropped over budget since start.
        self.dropped: dict[str, int] = {}
        self._logged: dict[str, float] = {}

    def allow(self, device: str) -> bool:
        now = self.clock()
        tokens, at = self._buckets.get(device, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[device] = (tokens - 1.0, now)
            return True
        self._buckets[device] = (tokens, now)
        self.dropped[device] = self.dropped.get(device, 0) + 1
        if now - self._logged.get(device, -1e9) >= 60:
            self._logged[device] = now
            logger.warning("device %s floods central: %s over its budget of %g/s are "
                           "dropped (%d so far); its alarms still pass", device, self.what,
                           self.rate, self.dropped[device])
            if self.on_flood is not None:
                self.on_flood(device, self.what, self.dropped[device])
        return False


class IngestQueue:
    """Feeds ``handle_batch(deliveries)`` on the writer, one batch at a time."""

    def __init__(self, writer: Writer,
                 handle_batch: Callable[[list[Delivery]], int | None], *,
                 max_batch: int = MAX_BATCH, low_batch: int = LOW_BATCH,
                 status_batch: int = STATUS_BATCH, budgets: Budgets | None = None,
                 gather_s: float = GATHER_S) -> None:
        self.writer = writer
        self.handle_batch = handle_batch
        self.max_batch = max_batch
        self.low_batch = low_batch
        self.status_batch = status_batch
        self.budgets = budgets or Budgets()
        #: Seconds heartbeats and snapshots wait for company (:meth:`_gather`).
        self.gather_s = gather_s
        self._armed = threading.Event()
        self._gatherer: threading.Thread | None = None
        self._queue = FairQueue()
        self._lock = threading.Lock()
        #: Drains submitted to the writer and not started; one of them urgent (ahead of
        #: the writer's other jobs: an alarm waits); a drain running.
        self._queued = 0
        self._urgent_queued = False
        self._running = False
        #: The last batch was events only and left other messages waiting: the next one
        #: takes some of them too, so a stream of events cannot starve heartbeats.
        self._owe_low = False
        #: device -> its status waiting in the queue (a newer one replaces it).
        self._statuses: dict[str, Delivery] = {}
        self._lag = 0.0
        #: Statuses replaced by a newer one of the same device while they waited.
        self.coalesced = 0
        #: Batches committed and messages in them (for /healthz and the benchmarks).
        self.batches = 0
        self.messages = 0
        #: Batches that stopped early to let an alarm through (:meth:`alarm_waiting`).
        self.yielded = 0

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def lag_s(self) -> float:
        """How long the last batch taken had waited (its oldest message), while more wait;
        0 when nothing waits. Supervision judges no silence while central is far behind
        (a heartbeat still waiting here is not silence)."""
        return self._lag if len(self._queue) else 0.0

    def put(self, delivery: Delivery) -> None:
        """Queue one message (paho's thread); never blocks on SQLite."""
        device, channel = route_of(delivery.topic)
        if channel == "status" and self._coalesce(device, delivery):
            return
        priority = PRIORITY.get(channel, 1)
        if priority > 0 and not self.budgets.allow(device):
            delivery.ack()  # dropped over budget: heartbeats and status are replaced anyway
            return
        with self._lock:
            self._queue.put(priority, device, delivery)
            if channel == "status":
                self._statuses[device] = delivery
            if priority == 0 and not self._urgent_queued:
                self._schedule(urgent=True)  # ahead of a supervision pass, an API write...
            elif self._queued == 0 and not self._running:
                if priority >= PRIORITY["heartbeat"] and self.gather_s > 0:
                    self._gather()
                else:
                    self._schedule(urgent=False)

    def _gather(self) -> None:
        """Heartbeats and snapshots wait :attr:`gather_s` for company before a drain is
        submitted (holding the lock): a fleet's heartbeats then cost one transaction per
        gathering, not one each. An event arriving meanwhile does not wait (a status waits
        with them, at most :attr:`gather_s`)."""
        self._queued += 1  # the drain the gatherer submits
        self._armed.set()
        if self._gatherer is None:
            self._gatherer = threading.Thread(target=self._gather_loop, daemon=True,
                                              name="ingest-gather")
            self._gatherer.start()

    def _gather_loop(self) -> None:
        """One thread for every gathering (not a timer thread each)."""
        while True:
            self._armed.wait()
            time.sleep(self.gather_s)  # the gathering itself, not a synchronisation
            with self._lock:
                self._armed.clear()
                self._queued -= 1
                if len(self._queue) and self._queued == 0 and not self._running:
                    self._schedule(urgent=False)

    def alarm_waiting(self) -> bool:
        """An event waits to be taken: long work on the writer (a batch of statuses, a
        supervision pass) stops early and lets it through."""
        with self._lock:
            return self._queue.head_priority() == 0

    def _coalesce(self, device: str, newer: Delivery) -> bool:
        """A newer status of a device whose older status still waits takes its place in
        the queue (True); the older one is acknowledged now, its payload kept in
        :attr:`Delivery.superseded`. After a broker restart a device's last will (sent by
        the stopping broker, and again after central's reconnect) and its new ``online``
        status then cost one write, and the device is shown online sooner."""
        with self._lock:
            queued = self._statuses.get(device)
            if queued is None:
                return False
            older_ack = queued.ack
            queued.superseded.append(queued.payload)
            queued.superseded.extend(newer.superseded)
            queued.topic, queued.payload, queued.ack = newer.topic, newer.payload, newer.ack
            self.coalesced += 1
        older_ack()  # replaced: the newer one is PUBACKed after its commit
        return True

    def _schedule(self, *, urgent: bool) -> None:
        """Submit a drain (holding the lock)."""
        try:
            if urgent:
                self.writer.submit_urgent(self._drain, urgent=True)
            else:
                self.writer.submit(self._drain, urgent=False)
        except WriterClosed:  # central is stopping: unacknowledged, the broker redelivers
            logger.info("writer closed: %d queued message(s) left for the broker to redeliver",
                        len(self._queue))
            return
        self._queued += 1
        self._urgent_queued = self._urgent_queued or urgent

    def _drain(self, _db: object, *, urgent: bool) -> None:
        with self._lock:
            self._queued -= 1
            if urgent:
                self._urgent_queued = False
            self._running = True
            # A batch that starts with an event carries only events: the alarm's commit
            # does not wait for heartbeats processed in its transaction (unless the last
            # batch was events only and left others waiting: then they get their share).
            head = self._queue.head_priority()
            events_only = head == 0 and not self._owe_low
            low = 0 if events_only else (
                self.status_batch if head == PRIORITY["status"] else self.low_batch)
            batch = self._queue.take(self.max_batch, low)
            for delivery in batch:  # taken: a newer status queues anew
                if delivery.topic.endswith("/status"):
                    device = route_of(delivery.topic)[0]
                    if self._statuses.get(device) is delivery:
                        del self._statuses[device]
            waiting = len(self._queue)
            self._owe_low = events_only and waiting > 0
        try:
            if batch:
                taken = time.monotonic()
                self._lag = taken - min(d.received for d in batch)
                handled = self.handle_batch(batch)  # commits, then publishes the receipts
                committed = time.monotonic()
                if handled is not None and handled < len(batch):  # stopped for an alarm
                    self._give_back(batch[handled:])
                    batch = batch[:handled]
                for delivery in batch:  # PUBACK strictly after the commit
                    delivery.ack()
                self.batches += 1
                self.messages += len(batch)
                if latency_logger.isEnabledFor(logging.DEBUG):
                    self._log_hops(batch, taken, committed, waiting)
        finally:
            with self._lock:
                self._running = False
                if len(self._queue) and self._queued == 0:  # behind the writer's other jobs
                    self._schedule(urgent=False)

    def _give_back(self, rest: list[Delivery]) -> None:
        with self._lock:
            self._queue.give_back(rest)
            for delivery in rest:
                if delivery.topic.endswith("/status"):
                    self._statuses.setdefault(route_of(delivery.topic)[0], delivery)
            self.yielded += 1

    @staticmethod
    def _log_hops(batch: list[Delivery], taken: float, committed: float, waiting: int) -> None:
        acked = time.monotonic()
        for delivery in batch:
            if delivery.topic.endswith("/event"):
                latency_logger.debug(
                    "hops %s received=%.6f taken=%.6f committed=%.6f acked=%.6f batch=%d "
                    "left_waiting=%d", delivery.topic, delivery.received, taken, committed,
                    acked, len(batch), waiting)
