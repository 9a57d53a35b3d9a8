"""Publishing the outbox: in ``seq`` order, with a deep in-flight window, at link speed.

The agent's loop calls :meth:`Sender.pump` while connected; it returns when it next
needs to run (a resend falling due) or that it has more to send at once. Each pump:

1. deletes the rows confirmed since the last pump, in one transaction
   (:meth:`~edge_agent.outbox.Outbox.flush`);
2. reads the due events, oldest ``seq`` first, at most :data:`BATCH` and at most the
   room left in the window (:data:`WINDOW` events published on this connection whose
   receipt has not come yet), and hands them to paho; a full window is topped up
   once a whole batch fits again, so a drain costs a few transactions per batch;
3. records the whole batch as sent in one transaction.

After a reconnect (:meth:`Sender.reconnected`) every unconfirmed event is due again,
so a backlog of thousands queued while the broker or central was down leaves as fast
as the link, the broker (``max_inflight_messages``) and central's receipts allow, and
is removed as its receipts arrive. A receipt frees a place in the window and wakes the
loop. While receipts keep coming, central is working through the backlog in ``seq``
order and nothing in flight is resent (a slow central is not flooded with copies); an
event sent a whole ``resend_timeout_s`` before the last receipt, or any event once the
receipts have stopped for that long, leaves the window and is resent by the outbox's
backoff, so a lost receipt cannot stall the drain.

A stored payload that no longer decodes (damaged on disk) is not sent: it is moved to
the outbox's rejected list, so it cannot be resent forever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from alarmlink import wire
from edge_agent.outbox import Outbox, OutboxError, Pending

logger = logging.getLogger(__name__)

#: Events published on one connection and not yet confirmed, at most. Deep enough that
#: the link, not the round trip to central's commit, bounds a drain; bounded so a long
#: backlog is not handed to paho at once (its resend clocks would start too early).
WINDOW = 2000
#: Shortest sleep :meth:`Sender.pump` asks for when nothing can go now.
MIN_WAIT_S = 0.05
#: Events read and published per pump at most (one SELECT, one UPDATE transaction).
BATCH = 500


class Sender:
    """Publishes one outbox. :meth:`pump` on the agent's loop thread; the rest anywhere."""

    def __init__(self, outbox: Outbox, publish: Callable[[bytes], bool], *,
                 device_id: str, window: int = WINDOW, batch: int = BATCH) -> None:
        self.outbox = outbox
        self.publish = publish
        self.device_id = device_id
        self.window = window
        self.batch = batch
        self._lock = threading.Lock()
        #: Room the window needs before it is topped up again.
        self._refill = max(1, min(batch, window // 2))
        #: event_id -> clock time of its publish on this connection, until its receipt.
        self._flight: dict[str, float] = {}
        #: Something new may be due (a new event, a reconnect, a batch that filled).
        self._dirty = True
        self._next_due: float | None = None
        #: Clock time of the last receipt (or reconnect): see :meth:`_resend_clock`.
        self._progress_at = 0.0
        #: :meth:`reconnected` ran for the current connection (nothing is sent before:
        #: the events it makes due again would go twice).
        self._ready = False

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._flight)

    def new_event(self) -> None:
        """An event was committed to the outbox: look at once."""
        with self._lock:
            self._dirty = True

    def hand_over(self, seq: int, connected: bool, now: float) -> None:
        """An input's event, committed without its fsync (``Outbox.add(sync=False)``) on
        the thread that publishes: hand it to paho now if connected, THEN make it durable
        (the publish's own record is a durable commit; else one fsync), so the alarm does
        not wait for the SD card and is durable before anything else happens. Never
        raises: what the disk refuses is logged and tried again later."""
        if connected:
            self.new_event()
            try:
                self.pump(now)
            except OutboxError as exc:  # committed: the loop's own pump tries again
                logger.error("%s: could not publish seq %d yet (%s); retrying",
                             self.device_id, seq, exc)
        try:
            self.outbox.sync()
        except OutboxError as exc:  # committed and kept (sent, resent), not yet durable
            logger.critical("%s: seq %d is in the outbox but the disk refused to sync it "
                            "(%s): a power cut now could lose it; check the SD card",
                            self.device_id, seq, exc)

    def reconnected(self, now: float) -> int:
        """A new connection: everything unconfirmed is due now. Returns how many."""
        count = self.outbox.mark_all_unsent()
        with self._lock:
            self._progress_at = now
            self._flight.clear()
            self._dirty = True
            self._ready = True
        return count

    def disconnected(self) -> None:
        """The link dropped: nothing more is sent until :meth:`reconnected`."""
        with self._lock:
            self._ready = False

    def confirmed(self, event_id: str, now: float) -> None:
        """Its receipt arrived (the outbox is told separately): a place in the window."""
        with self._lock:
            self._progress_at = now
            if self._flight.pop(event_id, None) is not None \
                    and len(self._flight) == self.window - self._refill:
                self._dirty = True  # room for a whole batch again: the rest may go now

    def pump(self, now: float) -> float | None:
        """Publish what is due. Returns when to pump again: ``now`` for at once, a later
        clock time for the next resend, None when only a new event or receipt can
        change anything. Raises :class:`~edge_agent.outbox.OutboxError` on a disk error.
        """
        self.outbox.flush()
        with self._lock:
            if not self._ready:
                return None  # connected, but reconnected() has not run yet: it wakes us
            clock = self._resend_clock(now)
            stale = clock - self.outbox.resend_timeout_s
            for event_id in [e for e, at in self._flight.items() if at <= stale]:
                del self._flight[event_id]  # no receipt in time: the backoff resends it
            room = self.window - len(self._flight)
            due_at = self._next_due
            if room < self._refill:
                # A full window refills only once a whole batch fits: topping it up per
                # receipt would cost two transactions for every few events.
                return self._wake_at(None, now)
            if not self._dirty and (due_at is None or clock < due_at):
                return self._wake_at(due_at, now)
            self._dirty = False
        pending = self.outbox.due(clock, limit=min(room, self.batch))
        sent: list[str] = []
        stopped = False
        for item in pending:
            if not self._valid(item):
                continue
            if not self.publish(item.payload):
                stopped = True  # the link went down: the reconnect makes them due again
                break
            sent.append(item.event_id)
            if item.attempts:
                logger.info("%s: resending seq %d (%s), attempt %d", self.device_id, item.seq,
                            item.event_id, item.attempts + 1)
        self.outbox.mark_sent_many(sent, now)
        next_due = self.outbox.next_due_at()
        with self._lock:
            for event_id in sent:
                self._flight[event_id] = now
            if not stopped and len(pending) == min(room, self.batch):
                self._dirty = True  # a full batch: there may be more
            self._next_due = next_due
            if self._dirty and self.window - len(self._flight) >= self._refill:
                return now
            return self._wake_at(next_due, now)

    def _resend_clock(self, now: float) -> float:
        """The time resends are judged by (lock held).

        While events are in flight and central's receipts keep coming (one within
        ``resend_timeout_s``), central is working through them in ``seq`` order: the
        clock stands at the last receipt, so only an event sent a whole interval before
        a later one was confirmed is resent. When the receipts stop, it is ``now``.
        """
        if self._flight and now - self._progress_at < self.outbox.resend_timeout_s:
            return self._progress_at
        return now

    def _wake_at(self, due_at: float | None, now: float) -> float | None:
        """When the next resend can fall due (lock held); always after ``now``."""
        timeout = self.outbox.resend_timeout_s
        if self._flight and now - self._progress_at < timeout:
            return self._progress_at + timeout  # a receipt wakes the loop before, if any
        oldest = min(self._flight.values(), default=None)
        candidates = [t for t in (due_at, None if oldest is None else oldest + timeout)
                      if t is not None]
        return max(min(candidates), now + MIN_WAIT_S) if candidates else None

    def _valid(self, item: Pending) -> bool:
        try:
            wire.decode(wire.Event, item.payload)  # bytes damaged on disk: resent forever
        except wire.ContractError as exc:
            self.outbox.reject(item.event_id, f"stored payload damaged: {exc}")
            logger.critical("%s: event %s in the outbox is damaged (%s); not sent, kept in "
                            "the rejected list", self.device_id, item.event_id, exc)
            return False
        return True
