"""The escalation scheduler: one thread, off the event loop, that every ``tick_s``

1. plans (on the writer): starts, stops and advances escalations (:mod:`.planner`);
2. sends the due notifications through their channels (modem I/O on this thread), each
   claimed on the writer first (an acknowledgement in between cancels it) and its result
   recorded there (retry with backoff, then the fallback channel);
3. reads the modem: delivery reports, and inbound SMS (acknowledgements, failover alarms).

At start, a notification a crash left ``sending`` is queued again, and overdue stages
run at once (their ``next_at`` is in the past). Nothing is sent twice for a stage: each
(incident, stage, recipient, channel) has one row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from alarmlink.gsm import ModemError, reassemble
from central.db import Writer, WriterClosed
from central.escalation import inbound, planner, services
from central.escalation.channels import (
    CallChannel,
    Channel,
    ModemLink,
    SmsChannel,
    WebhookChannel,
)
from central.escalation.config import EscalationConfig, ModemConfig

logger = logging.getLogger(__name__)

#: acknowledge(incident_id, username, via): the service's acknowledgement (receipts, push).
Acknowledge = Callable[[int, str, str], None]
#: failover(sender, text) -> True when the SMS was a venue's failover alarm (handled).
Failover = Callable[[str, str], bool]


class Escalator:
    def __init__(self, writer: Writer, config: EscalationConfig, modem: ModemConfig,
                 clock: Callable[[], datetime], acknowledge: Acknowledge, *,
                 on_change: Callable[[list[int]], None] | None = None,
                 failover: Failover | None = None) -> None:
        self.writer = writer
        self.config = config
        self.clock = clock
        self.acknowledge = acknowledge
        self.on_change = on_change
        self.failover = failover
        self.link = ModemLink(modem)
        self.channels: dict[str, Channel] = {"sms": SmsChannel(self.link),
                                             "call": CallChannel(self.link),
                                             "webhook": WebhookChannel(config)}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                        name="escalation", daemon=True)
        self._last_inbox = 0.0

    def start(self) -> None:
        """Start the thread (safe on the event loop: it does not wait for the writer).

        Again after :meth:`halt` (a node that wins leadership back): a new thread, which
        first requeues what the last leader left ``sending``."""
        if self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                        name="escalation", daemon=True)
        self._thread.start()

    def halt(self) -> None:
        """Stop sending at once without waiting (leadership lost): the thread ends after
        the send in progress, if any; the next leader continues from the database."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
        self.link.failed(ModemError("central stopping"))

    def _run(self, stop: threading.Event) -> None:
        try:
            requeued = self.writer.call(planner.recover_interrupted, self.clock())
        except WriterClosed:
            return
        if requeued:
            logger.warning("%s notification(s) interrupted by the last stop are sent again",
                           requeued)
        while not stop.is_set():
            try:
                self.tick()
            except WriterClosed:
                return
            except Exception:  # noqa: BLE001 - the scheduler outlives any one bad pass
                logger.exception("escalation pass failed; retrying next tick")
            stop.wait(self.config.tick_s)

    def tick(self) -> None:
        """One pass (see the module docstring)."""
        touched = self.writer.call(planner.plan, self.config, self.clock())
        touched += self.writer.call(services.auto_fire, self.config, self.clock())
        for notification in self.writer.call(planner.due_notifications, self.clock()):
            if self._stop.is_set():
                return
            touched += self._send(notification)
        self._read_modem()
        if touched and self.on_change is not None:
            self.on_change(sorted(set(touched)))

    def _send(self, notification: dict[str, Any]) -> list[int]:
        claimed = self.writer.call(planner.claim, notification["id"], self.clock())
        if claimed is None:
            return []
        channel = self.channels.get(claimed["channel"])
        if channel is None:
            ok, detail, refs, dtmf = False, f"unknown channel {claimed['channel']}", [], ""
        else:
            outcome = channel.send(claimed)
            ok, detail, refs, dtmf = outcome.ok, outcome.detail, outcome.refs, outcome.dtmf
        self.writer.call(planner.record_result, self.config, claimed["id"], ok, detail, refs,
                         self.clock())
        if ok and "1" in dtmf and not claimed["recipient"].startswith("contact:") \
                and not claimed["stage"].startswith("service:"):
            self.acknowledge(int(claimed["incident_id"]), claimed["recipient"], "call (key 1)")
        return [int(claimed["incident_id"])]

    def _read_modem(self) -> None:
        if self.link.modem is None:
            return
        got = self.link.poll()
        if got is None:
            return
        for report in got.reports:
            self.writer.call(planner.mark_delivered, report.reference, report.recipient,
                             report.delivered, self.clock())
        now = time.monotonic()
        if not got.new_sms and now - self._last_inbox < self.link.config.poll_s:
            return
        self._last_inbox = now
        try:
            messages, bad = self.link.ready().read_inbox()
        except ModemError as exc:
            self.link.failed(exc)
            logger.error("cannot read the modem's inbox: %s", exc)
            return
        for reason in bad:
            self.writer.call(inbound.record, "?", "", "rejected", reason, self.clock())
        for message in reassemble(messages):
            self.handle_sms(message.sender, message.text)

    def handle_sms(self, sender: str, text: str) -> None:
        """One inbound SMS: a failover alarm, an acknowledgement, or rejected with why."""
        if self.failover is not None and self.failover(sender, text):
            return
        request = self.writer.call(inbound.parse_ack, sender, text, self.clock())
        if request is not None:
            self.acknowledge(request.incident_id, request.username, "sms")
