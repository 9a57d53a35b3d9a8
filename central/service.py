"""The running central: database access, ingest, MQTT bridge and live hub wired together.

Threads, and what each may do with the database:

* the event loop (HTTP, WebSockets, timers) never touches SQLite: it awaits
  :attr:`CentralService.writer` for writes and :attr:`CentralService.readers`
  for reads;
* the writer thread (:class:`central.db.Writer`) runs every write: ingest
  (the MQTT thread waits for it), officers' actions, supervision passes,
  snapshot retention, audit retention;
* the reader threads (:class:`central.db.Readers`) run the API's queries.

Pushes to consoles made on the writer thread go to the loop through
:meth:`central.live.LiveHub.submit_threadsafe`, so a change that was committed
is pushed even if the request that caused it went away meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from alarmlink.sdnotify import Notifier
from alarmlink.wire import Command, CommandName, DetailValue, Outcome, Topics, encode, utcnow
from central import (
    audit,
    commands,
    commissioning,
    dead_letters,
    incidents,
    registry,
)
from central.av import AvRelay, close_recorder
from central.config import CentralConfig
from central.db import Readers, Writer, query_one
from central.db.backend import open_database
from central.escalation.failover import FailoverIngest
from central.escalation.scheduler import Escalator
from central.floods import FloodWatch
from central.health import (
    broker_problems,
    database_problems,
    free_bytes,
    ingest_problems,
    probe_loop,
    writer_facts,
)
from central.ingest import Clock, Ingestor, Publish
from central.ingest_events import publish_receipts
from central.ingest_queue import Budgets
from central.live import LiveHub
from central.management import seed as management_seed
from central.mqtt_bridge import MqttBridge
from central.node import Node, retention_tasks
from central.receiver.accounts import AccountMap
from central.receiver.handler import Dc09Handler
from central.receiver.keys import load_keys
from central.receiver.server import Dc09Receiver
from central.snapshot_control import SnapshotControl
from central.snapshots import SnapshotFiles
from central.supervision import Supervisor

logger = logging.getLogger(__name__)

#: /healthz reports the database as failing when a trivial read takes longer.
HEALTH_READ_TIMEOUT_S = 5.0


class CentralService:
    """Owns central's moving parts. ``publisher`` replaces MQTT (tests, tools).

    Construct it off the event loop (it opens the database, applies migrations
    and loads the registry on the writer, waiting for them).
    """

    def __init__(self, config: CentralConfig, *, publisher: Publish | None = None,
                 clock: Clock = utcnow) -> None:
        self.config = config
        self.clock = clock
        self.topics = Topics(config.broker.topic_prefix)
        self.hub = LiveHub()
        # on PostgreSQL no database file creates it: /healthz watches its free space
        config.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = Writer(open_database(config.db_target))
        try:
            if config.registry is not None:
                self.writer.call(registry.load_registry, config.registry)
            self.writer.call(management_seed.seed_all, clock())
        except BaseException:
            self.writer.close()
            raise
        self.readers = Readers(config.db_target)
        #: A query-only connection for callers on their own thread (tools, tests);
        #: the service itself reads through :attr:`readers`.
        self.db = open_database(config.db_target, query_only=True)
        self.bridge: MqttBridge | None = None
        self._publisher = publisher
        self.snapshot_files = SnapshotFiles(config.data_dir / "snapshots")
        self.snapshot_control = SnapshotControl(config.snapshots, self.topics, self.publish,
                                                clock)
        #: A flooding device raises one trouble (central/floods.py, [limits]).
        self.floods = FloodWatch(self.writer, self.hub.submit_threadsafe, clock)
        limits = config.limits
        self.ingestor = Ingestor(self.writer, self.topics, self.publish,
                                 self.hub.submit_threadsafe, clock,
                                 clock_skew_threshold_s=config.clock_skew_threshold_s,
                                 snapshot_files=self.snapshot_files,
                                 supervision_config=config.supervision,
                                 notify_frame=self.hub.submit_frame_threadsafe,
                                 dead_letter_policy=dead_letters.Policy(
                                     limits, on_flood=self.floods.flooding))
        #: Live audio/video sessions: signalling relay (central/av.py).
        self.av = AvRelay(self.topics, self.publish, self.hub.push_about,
                          close_recorder(self.writer))
        self.ingestor.on_rtc = self.av.on_reply
        self.ingestor.on_talk = self.hub.push_about_threadsafe  # the venue asks to talk
        if publisher is None:
            self.bridge = MqttBridge(
                config.broker, self.ingestor, telemetry=config.telemetry_broker,
                budgets=Budgets(limits.non_alarm_rate_per_s, limits.non_alarm_burst,
                                on_flood=self.floods.flooding),
                share_group=config.share_group if config.on_postgresql else None,
                process=config.mqtt_process)
            self.ingestor.publish_stored = self.bridge.publish_qos0
        # Its own connection is the writer's: tick() runs only as a writer job.
        self.supervisor = Supervisor(self.writer.db, config.supervision, clock,
                                     clock_skew_threshold_s=config.clock_skew_threshold_s)
        self.ingestor.on_heard = self.supervisor.heard  # deadlines move without a read
        self.ingestor.reconnects.excused = self.supervisor.doubting  # broker restarts
        self.supervisor.should_yield = self.ingestor.should_yield  # a pass lets alarms by
        self.notifier = Notifier()
        #: The SIA DC-09 IP receiver ([receiver]), or None when no port is configured.
        self.receiver: Dc09Receiver | None = None
        if config.receiver.enabled:
            keys = load_keys(config.receiver.keys_file) if config.receiver.keys_file else {}
            accounts = AccountMap(lambda: self.readers.run(registry.dc09_accounts))
            handler = Dc09Handler(self.ingestor, self.topics, accounts, clock)
            self.receiver = Dc09Receiver(config.receiver, handler, keys, clock)
        #: Escalation, notifications and the GSM modem (central/escalation/).
        self.escalator = Escalator(self.writer, config.escalation, config.modem, clock,
                                   self.acknowledge_from_channel,
                                   on_change=self._push_incidents,
                                   failover=FailoverIngest(
                                       self.writer, self.ingestor.handle, self.topics, clock,
                                       self.ingestor.dead_letter_policy))
        #: Name, leadership (run-once work on one node), the other nodes' incident changes.
        self.node = Node(config, self.writer, self.hub.submit_threadsafe)
        self.node.guard_bridge(self.bridge)
        self._tasks: list[asyncio.Task[None]] = []
        self._started = time.monotonic()

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, not retained; thread-safe (the writer thread publishes receipts)."""
        if self._publisher is not None:
            self._publisher(topic, payload)
        elif self.bridge is not None:
            self.bridge.publish(topic, payload)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind the live hub, connect MQTT, start the timers. Call on the loop thread."""
        self.hub.bind(loop)
        self.av.bind(loop)
        self.writer.serve_loop(loop)
        if self.bridge is not None:
            self.bridge.start()
        self._tasks = [
            loop.create_task(self._supervise(), name="supervision"),
            loop.create_task(probe_loop(self.writer, self.config.health.probe_interval_s),
                             name="health-probe"),
        ]
        self.node.start(loop, lambda lp: retention_tasks(
            lp, self.writer, self.snapshot_files, self.ingestor.recording_files, self.config,
            self.clock), self.escalator, self.config.escalation.enabled)
        logger.info("central started on node %s (db %s)", self.node.name, self.node.database)

    async def start_receiver(self) -> None:
        """Bind the DC-09 listeners if configured (after :meth:`start`, on the loop)."""
        if self.receiver is not None:
            try:
                await self.receiver.start()
            except OSError as exc:
                cfg = self.config.receiver
                message = (f"DC-09 receiver cannot listen on {cfg.host} (tcp {cfg.tcp_port}, "
                           f"udp {cfg.udp_port}): {exc.strerror or exc}; change [receiver] "
                           "tcp_port/udp_port or stop the program using the port")
                logger.error("%s", message)
                raise RuntimeError(message) from None

    async def stop(self) -> None:
        """Stop the receiver and the timers, then (off the loop) MQTT, the writer and the
        readers."""
        self.notifier.stopping("stopping")
        if self.receiver is not None:
            await self.receiver.stop()
        tasks = self._tasks + self.node.take_tasks()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Blocking part of :meth:`stop`. MQTT first: its thread may be waiting on the writer."""
        self.node.stop()
        if self.bridge is not None:
            self.bridge.stop()
        self.escalator.stop()
        self.writer.close()
        self.readers.close()
        self.db.close()
        logger.info("central stopped")

    # ------------------------------------------------------------ actions

    async def act(self, incident_id: int, action: incidents.Action, actor: str, *,
                  note: str = "", outcome: Outcome | None = None) -> dict[str, Any]:
        """Apply a transition, send receipts to the venue devices, push it live."""
        return await self.writer.run(self._act, incident_id, action, actor, note, outcome)

    def _act(self, db: Database, incident_id: int, action: incidents.Action, actor: str,
             note: str, outcome: Outcome | None) -> dict[str, Any]:
        result = incidents.transition(db, incident_id, action, actor, self.clock(),
                                      note=note, outcome=outcome)
        publish_receipts(self.publish, self.topics, result.receipts)
        if action == "resolve":  # ends a live view and the live sessions still running
            self.snapshot_control.incident_resolved(db, incident_id)
            self.av.incident_resolved_threadsafe(incident_id, actor)
        self.hub.submit_threadsafe(result.incident)
        return result.incident

    def acknowledge_from_channel(self, incident_id: int, username: str, via: str) -> None:
        """An acknowledgement by SMS reply or key press (escalation thread): as ``username``,
        audited with the channel as its source. Already acknowledged: logged, nothing else."""
        try:
            self.writer.call(self._channel_ack, incident_id, username, via)
        except (incidents.TransitionError, incidents.IncidentNotFound) as exc:
            logger.info("acknowledgement by %s via %s not applied: %s", username, via, exc)

    def _channel_ack(self, db: Database, incident_id: int, username: str, via: str) -> None:
        self._act(db, incident_id, "acknowledge", username, f"via {via}", None)
        user = query_one(db, "SELECT role FROM users WHERE username = ?", [username])
        audit.append(db, audit.Entry(username, user["role"] if user else "", via,
                                     "incident.acknowledge", f"incident:{incident_id}",
                                     "allowed", {"via": via}), at=self.clock())

    def _push_incidents(self, incident_ids: list[int]) -> None:
        """Push what escalation changed: read and handed over in ONE writer job (ordered)."""
        self.writer.call(self._read_and_push, incident_ids)

    def _read_and_push(self, db: Database, incident_ids: list[int]) -> None:
        for incident_id in incident_ids:
            incident = incidents.get_incident(db, incident_id)
            if incident is not None:
                self.hub.submit_threadsafe(incident)

    async def send_command(self, device_id: str, name: CommandName,
                           args: Mapping[str, DetailValue], actor: str,
                           ttl_s: float) -> dict[str, Any] | None:
        """Store and publish (QoS 1, never retained) a command; None for an unknown device.

        Raises pydantic's ``ValidationError`` for arguments the wire contract refuses.
        """
        now = self.clock()
        command = commands.build_command(name, args, actor, ttl_s, now)
        return await self.writer.run(self._send_command, device_id, command, now)

    def _send_command(self, db: Database, device_id: str, command: Command,
                      now: datetime) -> dict[str, Any] | None:
        if registry.device_route(db, device_id) is None:
            return None
        commands.store_command(db, device_id, command, now)
        self.publish(self.topics.cmd(device_id), encode(command))
        return commands.get_command(db, command.cmd_id, now)

    # ------------------------------------------------------------ queries

    async def health(self) -> dict[str, Any]:
        """``/healthz``: see :mod:`central.health` for what is judged and how."""
        directory = self.config.db_path.parent
        problems: list[str] = []
        try:
            await asyncio.wait_for(self.readers.run(_select_one), HEALTH_READ_TIMEOUT_S)
        except sqlite3.Error as exc:
            logger.error("health check: database read failed: %s", exc)
            problems.append(f"database: read failed ({exc}) — check {directory} and "
                            f"central's log")
        except TimeoutError:
            logger.error("health check: no database answer within %s s", HEALTH_READ_TIMEOUT_S)
            problems.append(f"database: no answer to a read within "
                            f"{HEALTH_READ_TIMEOUT_S:g} s — check the disk holding {directory}")
        free = await asyncio.to_thread(free_bytes, directory)
        problems += database_problems(self.writer, self.config.health, directory,
                                      self._started, free)
        db_state = "ok" if not problems else "error: " + problems[0].removeprefix("database: ")
        if self.bridge is None:
            mqtt, error, message_age = "disabled", None, None
        else:
            mqtt = _mqtt_state(self.bridge.connected, self.bridge.ready, self.bridge.last_error)
            error = self.bridge.last_error
            message_age = self.bridge.last_message_age_s
        facts = writer_facts(self.writer)
        problems += ingest_problems(facts["ingest_lag_s"], self.config.health)
        problems = broker_problems(mqtt, error) + problems
        return {"ok": not problems, "problems": problems, "db": db_state,
                "node": self.node.name, "role": self.node.role,
                "database": self.node.database,
                "mqtt": mqtt, "mqtt_error": error,
                "free_mb": None if free is None else round(free / (1024 * 1024), 1),
                "last_broker_message_age_s": (None if message_age is None
                                              else round(message_age, 3)),
                **facts}

    async def devices(self, station: str | None = None, *, after: str | None = None,
                      limit: int | None = None) -> list[dict[str, Any]]:
        """Every device (or one station's, or one page: ``after`` a device id, at most
        ``limit``) with its supervision state for the board."""
        return await self.readers.run(self._devices, station, after, limit)

    def _devices(self, db: Database, station: str | None, after: str | None = None,
                 limit: int | None = None) -> list[dict[str, Any]]:
        listed = registry.list_devices(db, station, after=after, limit=limit)
        ids = None if limit is None else [d["device_id"] for d in listed]
        board = self.supervisor.board(db, ids)
        untested = commissioning.untested_zones(db, ids)
        walking = commissioning.commissioning_devices(db, self.clock())
        out = []
        for device in listed:
            extra = board.get(device["device_id"], {})
            out.append({**device, **extra, "online": extra.get("state") == "online",
                        "untested_zones": untested.get(device["device_id"], []),
                        "commissioning": device["device_id"] in walking})
        return out

    async def commands(self, device_id: str, limit: int = 50) -> list[dict[str, Any]] | None:
        """The device's latest commands with their results; None for an unknown device."""
        return await self.readers.run(self._commands, device_id, self.clock(), limit)

    @staticmethod
    def _commands(db: Database, device_id: str, now: datetime,
                  limit: int) -> list[dict[str, Any]] | None:
        if registry.device_route(db, device_id) is None:
            return None
        return commands.list_commands(db, device_id, now, limit)

    # ------------------------------------------------------------ supervision

    async def _supervise(self) -> None:
        """Judge devices every check interval (on the writer); feed systemd's watchdog."""
        interval = self.config.supervision.check_interval_s
        ready = False
        while True:
            try:
                if self.node.is_leader():
                    await self.writer.run(self._supervise_pass)
                else:  # a follower: the database answers (the watchdog's condition)
                    await self.writer.run(_select_one)
            except sqlite3.Error:
                logger.exception("supervision check failed; retrying")
                self.node.exit_if_database_lost("supervision")
            else:
                if not ready:
                    ready = True
                    self.notifier.ready("supervising devices")
                self.notifier.watchdog()  # only while the loop runs and the db answers
            await asyncio.sleep(interval)

    def supervise_once(self) -> list[dict[str, Any]]:
        """One supervision pass on the writer, waiting for it; returns the pushed incidents.
        Not on the event loop (it blocks); the service's own timer awaits the writer."""
        return self.writer.call(self._supervise_pass)

    def _supervise_pass(self, _db: Database) -> list[dict[str, Any]]:
        bridge = self.bridge
        self.supervisor.set_listening(bridge is None or bridge.ready,
                                      None if bridge is None else bridge.epoch,
                                      lag_s=0.0 if bridge is None else bridge.ingest_lag_s)
        changed = self.supervisor.tick()
        for incident in changed:
            self.hub.submit_threadsafe(incident)
        return changed


def _select_one(db: Database) -> None:
    query_one(db, "SELECT 1 AS ok")


def _mqtt_state(connected: bool, ready: bool, error: str | None) -> str:
    """``/healthz``'s ``mqtt``: a refused subscription is told apart from a lost broker."""
    if ready:
        return "connected"
    if not connected:
        return "disconnected"
    return "subscription_refused" if error else "subscribing"
