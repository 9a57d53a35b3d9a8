"""The edge agent: inputs -> durable outbox -> MQTT, receipts -> venue feedback.

``Agent(load_config("school.toml"), pin_factory=MockFactory())``, then ``start()`` and
``stop()``. The talk button and live sessions are in :mod:`edge_agent.agent_live`. A
confirmed input change becomes an event through :meth:`Agent.raise_event`,
which commits it to the outbox FIRST and only then publishes it (if
connected). The main-loop thread is event-driven: it sleeps on one
``threading.Event`` that pin edges, new events (GPIO, serial panels, camera),
receipts, reconnects and queued loop calls set, or until its next deadline (a
debounce or confirmation ending, a resend falling due, the next heartbeat), and
at least every :data:`IDLE_WAKE_S` (the systemd watchdog watches it turn). Each
pass polls the inputs' filters, has :class:`~edge_agent.sender.Sender` publish
what is due (in ``seq`` order, with a deep in-flight window) and heartbeats.
There is no fixed poll period and no SQLite query on an idle pass. Receipts
confirm outbox rows and move the feedback LED forward; commands are answered
with a ``CommandResult``.

Collaborators get callables, never the agent (the command runner gets
:class:`CommandActions`). What ``reload_config`` changes while running (``config``,
the outbox's resend timing, the link's config hash) is changed only on the main
loop thread, between two ticks (:attr:`Agent.loop_calls`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from alarmlink import __version__, wire
from alarmlink.mqtt.reasons import JITTER, jittered
from edge_agent.agent_live import AgentLive
from edge_agent.agent_remote import AgentRemote
from edge_agent.camera.build import build_camera
from edge_agent.camera.service import CameraService
from edge_agent.commands import CommandRunner
from edge_agent.config import AgentConfig
from edge_agent.failover import Failover
from edge_agent.feedback import Feedback
from edge_agent.inputs import AlarmInput, Clock, InputChange, build_inputs
from edge_agent.link import MqttLink
from edge_agent.loop_calls import LoopCalls
from edge_agent.outbox import Outbox, OutboxError
from edge_agent.outbox_guard import TROUBLE_ZONE
from edge_agent.sender import Sender
from edge_agent.serial.reader import SerialLink, build_serial_links

logger = logging.getLogger(__name__)

#: The loop's longest sleep: it refreshes ``last_tick_at`` for the watchdog and polls the
#: pins once, in case an edge callback was missed.
IDLE_WAKE_S = 1.0
#: How soon an input change the disk refused is tried again.
RETRY_UNCOMMITTED_S = 0.1
#: How long a reload waits for the main loop to take the new config up.
LOOP_CALL_TIMEOUT_S = 10.0

EventListener = Callable[[wire.Event], None]


class Agent(AgentRemote):
    """One venue device. Build it, :meth:`start` it, :meth:`stop` it (or use ``with``).

    ``pin_factory``: a gpiozero pin factory (``MockFactory()`` in tests and
    simulators); ``None`` uses gpiozero's default, which honours
    ``GPIOZERO_PIN_FACTORY``. ``clock``: monotonic seconds, for the input
    filters, resend timing and heartbeats.

    Inputs, feedback outputs and the outbox are opened in the constructor, so a
    simulator can set its mock pins to their resting level before :meth:`start`
    samples them.
    """

    def __init__(self, config: AgentConfig, pin_factory: Any = None,
                 clock: Clock = time.monotonic, *, config_path: Path | None = None) -> None:
        self.config = config
        #: The file ``config`` came from; the ``reload_config`` command re-reads it.
        self.config_path = config_path
        self.device_id = config.device_id
        self.clock = clock
        self.boot_id = wire.new_id()
        self.version = __version__
        #: ``time.monotonic()`` of the last main-loop tick (the systemd watchdog checks it).
        self.last_tick_at: float | None = None
        #: Called (from the raising thread) with every event after it is committed.
        self.event_listeners: list[EventListener] = []
        #: Called with True on every successful connect and False when the link drops
        #: (from paho's network thread).
        self.connection_listeners: list[Callable[[bool], None]] = []
        self._started_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_heartbeat = 0.0
        self._wake = threading.Event()
        #: Changes handed to the main loop thread, run between two ticks.
        self.loop_calls = LoopCalls(wake=self._wake.set, timeout_s=LOOP_CALL_TIMEOUT_S)
        self._uncommitted: list[InputChange] = []  # input changes the disk refused
        self._outbox = Outbox(config.outbox_path, config.device_id,
                              resend_timeout_s=config.resend_timeout_s,
                              resend_max_s=config.resend_max_s)
        try:
            self._inputs = build_inputs(list(config.inputs), pin_factory=pin_factory,
                                        clock=clock)
            self._feedback = Feedback(config.feedback, pin_factory=pin_factory)
            #: The talk button and ``[rtc]`` live sessions (edge_agent/agent_live.py).
            self.live = AgentLive(config, self._feedback, lambda s: self.link.publish_rtc(s),
                                  lambda *a: self.link.publish_rec(*a), self.raise_event)
            for item in self._inputs.values():
                item.when_alarm = item.when_restore = item.when_trouble = self.live.wrap(
                    item, self._on_input)
                item.set_edge_hook(self._wake.set)
            self.link = MqttLink(config, boot_id=self.boot_id, version=self.version,
                                 on_connected=self._on_connected,
                                 on_disconnected=self._on_disconnected,
                                 on_receipt=self._on_receipt, on_command=self._on_command,
                                 on_rtc=self.live.on_signal)
            self._sender = Sender(self._outbox, self.link.publish_event,
                                  device_id=config.device_id)
            #: One reader thread per ``[[serials]]`` port (opened by start()).
            self.serial_links: list[SerialLink] = build_serial_links(list(config.serials),
                                                                     self.raise_event)
            #: ``[camera]``: pre-alarm buffer, alarm bursts, live view (None: no camera).
            self.camera: CameraService | None = build_camera(
                config, link=self.link, event_pending=self._outbox.contains,
                raise_event=self.raise_event)
            if self.camera is not None:
                self.event_listeners.append(self.camera.on_event)
            #: ``[modem]``: SMS failover and the local sounder (None: no modem).
            self.failover: Failover | None = None
            if config.modem is not None:
                self.failover = Failover(config.modem, config.venue, self._outbox.contains,
                                         pin_factory=pin_factory, clock=clock)
                self.event_listeners.append(self.failover.on_event)
                self._feedback.listeners.append(self.failover.on_stage)
            self.commands = CommandRunner(self.device_id, self.version,
                                          publish_result=self.link.publish_result,
                                          actions=self._command_actions())
        except Exception:
            self._close_hardware()
            raise

    # --- public state ----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.link.connected

    @property
    def feedback(self) -> Feedback:
        return self._feedback

    @property
    def inputs(self) -> Mapping[str, AlarmInput]:
        return self._inputs

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def uptime_s(self) -> float:
        return 0.0 if self._started_at is None else max(self.clock() - self._started_at, 0.0)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Arm the inputs, connect (in the background) and start the main loop."""
        if self._thread is not None:
            raise RuntimeError("agent already started")
        self._started_at = self.clock()
        for item in self._inputs.values():
            item.arm()
        depth = self._outbox.depth()
        if depth:
            logger.warning("%s: %d unconfirmed event(s) in the outbox from before; they will "
                           "be resent", self.device_id, depth)
        self._next_heartbeat = self.clock()
        self._stop.clear()
        self.live.start()   # first: salvaged recordings wait for the first connect
        self.link.start()
        recovery = self._outbox.recovery
        if recovery is not None:  # the station must know events may have been lost
            self.raise_event(wire.Kind.TROUBLE, wire.State.TROUBLE, TROUBLE_ZONE, detail={
                "reason": recovery.reason[:200], "moved_to": str(recovery.moved_to or ""),
                "next_seq": recovery.next_seq})
        for serial_link in self.serial_links:
            serial_link.start()
        if self.camera is not None:
            self.camera.start()
        if self.failover is not None:
            self.failover.start()
        self._thread = threading.Thread(target=self._run, name=f"agent-{self.device_id}",
                                        daemon=True)
        self.loop_calls.open(self._thread)
        self._thread.start()
        logger.info("%s: agent started (%d input(s), outbox %s)", self.device_id,
                    len(self._inputs), self._outbox.path)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop, publish ``stopped``, disconnect, release pins and the outbox."""
        self._stop.set()
        for serial_link in self.serial_links:
            serial_link.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.commands.close(timeout)
        if self.camera is not None:
            self.camera.stop()
        self.live.stop()
        self.link.stop(timeout)
        self._close_hardware()
        logger.info("%s: agent stopped", self.device_id)

    def _close_hardware(self) -> None:
        for item in getattr(self, "_inputs", {}).values():
            item.close()
        failover = getattr(self, "failover", None)
        if failover is not None:
            failover.stop()
        feedback = getattr(self, "_feedback", None)
        if feedback is not None:
            feedback.close()
        self._outbox.close()

    def __enter__(self) -> Agent:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- events ----------------------------------------------------------------------

    def raise_event(self, kind: wire.Kind | str, state: wire.State | str, zone: str,
                    source: wire.Source | str = wire.Source.SELF,
                    detail: Mapping[str, wire.DetailValue] | None = None, test: bool = False,
                    ts: datetime | None = None) -> wire.Event:
        """Commit an event to the outbox, then have it published if connected. Returns it.

        The event is durable once this returns, connected or not. Publishing is
        done by the main loop thread, woken at once, so events leave in ``seq``
        order from one thread and a resend can never race a first send.
        ``test`` is forced on when the config has ``walk_test = true``.
        """
        event = self._commit(kind, state, zone, source, detail, test, ts)
        self._announce(event)
        return event

    def _commit(self, kind: wire.Kind | str, state: wire.State | str, zone: str,
                source: wire.Source | str, detail: Mapping[str, wire.DetailValue] | None,
                test: bool, ts: datetime | None, *, sync: bool = True) -> wire.Event:
        event = self._outbox.add(kind=kind, state=state, zone=zone, source=source, ts=ts,
                                 detail=detail, test=test or self.config.walk_test,
                                 sync=sync)
        logger.info("%s: event seq %d %s %s zone %s (%s)%s", self.device_id, event.seq,
                    event.kind.value, event.state.value, event.zone, event.event_id,
                    " [test]" if event.test else "")
        return event

    def _announce(self, event: wire.Event) -> None:
        """After the commit: listeners, the LED and buzzer, and the main loop woken."""
        for listener in list(self.event_listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("%s: event listener failed", self.device_id)
        if event.state == wire.State.ALARM and event.kind not in (wire.Kind.TROUBLE,
                                                                  wire.Kind.TAMPER):
            self._feedback.alarm_raised(event)
        self._sender.new_event()
        self._wake.set()  # the main loop publishes it now, in seq order, if connected

    def _on_input(self, change: InputChange) -> None:
        """An input changed (the main loop thread, in :meth:`tick`): commit its event and
        hand it to paho at once, before the LED, buzzer and listeners take their time (and
        before the commit's fsync: :meth:`Sender.hand_over`)."""
        try:
            event = self._commit(change.kind, change.state, change.zone, wire.Source.GPIO,
                                 change.detail, False, None, sync=False)
        except OutboxError as exc:
            # The input filter has already moved on, so keep the change and retry every
            # tick: an alarm must not be dropped because the SD card hiccuped.
            logger.critical("%s: cannot commit %s %s in zone %s (%s); retrying", self.device_id,
                            change.kind.value, change.state.value, change.zone, exc)
            self._uncommitted.append(change)
            return
        self._sender.hand_over(event.seq, self.link.connected, self.clock())
        self._announce(event)

    def _retry_uncommitted(self) -> None:
        while self._uncommitted:
            change = self._uncommitted[0]
            try:
                self.raise_event(change.kind, change.state, change.zone, wire.Source.GPIO,
                                 detail=change.detail)
            except OutboxError:
                return
            self._uncommitted.pop(0)

    # --- main loop -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self.loop_calls.run_pending()
            try:
                wake_at = self.tick()
            except Exception:  # keep reading inputs whatever goes wrong
                logger.exception("%s: main loop tick failed", self.device_id)
                wake_at = self.clock() + RETRY_UNCOMMITTED_S
            timeout = IDLE_WAKE_S if wake_at is None else wake_at - self.clock()
            if timeout > 0:  # (a set event returns at once: nothing set meanwhile is lost)
                self._wake.wait(min(timeout, IDLE_WAKE_S))
            self._wake.clear()
        self.loop_calls.close()  # what was queued still runs, on this thread

    def tick(self) -> float | None:
        """One pass: poll inputs, publish due events, heartbeat. Called by the loop.

        Returns the clock time of the next thing due (None: only an edge, an event or a
        receipt can bring work).
        """
        self.last_tick_at = time.monotonic()
        now = self.clock()
        deadlines: list[float | None] = []
        self._retry_uncommitted()
        if self._uncommitted:
            deadlines.append(now + RETRY_UNCOMMITTED_S)
        for item in self._inputs.values():
            item.poll(now)
            deadlines.append(item.next_due())
        if self.link.connected:
            deadlines.append(self._sender.pump(now))
            if now >= self._next_heartbeat:
                # ±20 % on every period: a fleet that reconnected together drifts apart
                self._next_heartbeat = now + jittered(self.config.heartbeat_interval_s)
                self.link.publish_heartbeat(self.heartbeat())
            deadlines.append(self._next_heartbeat)
        else:
            self._outbox.flush()  # receipts that came before the link dropped
        return min((d for d in deadlines if d is not None), default=None)

    # --- link callbacks (paho's thread) ---------------------------------------------

    def _on_connected(self) -> None:
        count = self._sender.reconnected(self.clock())
        if count:
            logger.info("%s: reconnected; resending %d unconfirmed event(s)", self.device_id,
                        count)
        # The first heartbeat within the first 20 % of the interval, not at once: after a
        # broker restart the whole fleet reconnects within a second or two, and heartbeats
        # sent together would queue ahead of an alarm at central (issue 17).
        self._next_heartbeat = self.clock() + random.uniform(
            0.0, JITTER * self.config.heartbeat_interval_s)
        self._wake.set()
        self._notify_connection(True)
        self.live.on_connected()   # talk requests and recordings that waited

    def _on_disconnected(self) -> None:
        self._sender.disconnected()
        self._notify_connection(False)

    def _notify_connection(self, connected: bool) -> None:
        for listener in list(self.connection_listeners):
            try:
                listener(connected)
            except Exception:
                logger.exception("%s: connection listener failed", self.device_id)

    def _on_receipt(self, receipt: wire.Receipt) -> None:
        if receipt.stage == wire.Stage.REJECTED:
            self._sender.confirmed(receipt.event_id, self.clock())  # its window place is free
            if self._outbox.reject(receipt.event_id, receipt.reason or "no reason given"):
                logger.error("%s: central REJECTED event %s: %s. It is not resent; it is "
                             "kept in the outbox's rejected list", self.device_id,
                             receipt.event_id, receipt.reason)
            return
        # Any stage implies central stored the event (it cannot acknowledge what it
        # has not stored), so a lost 'stored' receipt does not keep the event forever.
        if self._outbox.confirm(receipt.event_id):
            logger.debug("%s: central %s event %s; removed from the outbox", self.device_id,
                         receipt.stage.value, receipt.event_id)
            self._sender.confirmed(receipt.event_id, self.clock())
            self._wake.set()  # the loop deletes the confirmed rows in batches
        self._feedback.receipt(receipt)
        if self.camera is not None:
            self.camera.on_receipt(receipt)
