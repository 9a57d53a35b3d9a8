"""The running central: databases, ingest, MQTT bridge and live hub wired together.

Two database connections: one for the MQTT thread (ingest), one for the event
loop (API and WebSocket). :mod:`central.db` explains why.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

from alarmlink.sdnotify import Notifier
from alarmlink.wire import CommandName, DetailValue, Outcome, Topics, encode, utcnow
from central import commands, commissioning, incidents, registry
from central.config import CentralConfig
from central.db import open_db
from central.dead_letters import list_dead_letters
from central.ingest import Clock, Ingestor, Publish, publish_receipts
from central.live import LiveHub
from central.mqtt_bridge import MqttBridge
from central.registry import device_route, load_registry
from central.snapshot_control import SnapshotControl
from central.snapshots import SnapshotFiles, retention_loop
from central.supervision import Supervisor

logger = logging.getLogger(__name__)


class CentralService:
    """Owns central's moving parts. ``publisher`` replaces MQTT (tests, tools)."""

    def __init__(self, config: CentralConfig, *, publisher: Publish | None = None,
                 clock: Clock = utcnow) -> None:
        self.config = config
        self.clock = clock
        self.topics = Topics(config.broker.topic_prefix)
        self.hub = LiveHub()
        self.db = open_db(config.db_path)
        if config.registry is not None:
            load_registry(self.db, config.registry)
        self.ingest_db = open_db(config.db_path)
        self.bridge: MqttBridge | None = None
        self._publisher = publisher
        self.snapshot_files = SnapshotFiles(config.data_dir / "snapshots")
        self.snapshot_control = SnapshotControl(config.snapshots, self.topics, self.publish,
                                                clock)
        self._retention_task: asyncio.Task[None] | None = None
        self.ingestor = Ingestor(self.ingest_db, self.topics, self.publish,
                                 self.hub.submit_threadsafe, clock,
                                 clock_skew_threshold_s=config.clock_skew_threshold_s,
                                 snapshot_files=self.snapshot_files)
        if publisher is None:
            self.bridge = MqttBridge(config.broker, self.ingestor)
        self.supervisor = Supervisor(self.db, config.supervision, clock,
                                     clock_skew_threshold_s=config.clock_skew_threshold_s)
        self.notifier = Notifier()
        self._supervise_task: asyncio.Task[None] | None = None

    def publish(self, topic: str, payload: bytes) -> None:
        if self._publisher is not None:
            self._publisher(topic, payload)
        elif self.bridge is not None:
            self.bridge.publish(topic, payload)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.hub.bind(loop)
        if self.bridge is not None:
            self.bridge.start()
        self._supervise_task = loop.create_task(self._supervise(), name="supervision")
        self._retention_task = loop.create_task(retention_loop(
            self.config.db_path, self.snapshot_files, self.config.snapshots, self.clock),
            name="snapshot-retention")
        logger.info("central started (db %s)", self.config.db_path)

    def stop(self) -> None:
        self.notifier.stopping("stopping")
        if self._supervise_task is not None:
            self._supervise_task.cancel()
            self._supervise_task = None
        if self._retention_task is not None:
            self._retention_task.cancel()
            self._retention_task = None
        if self.bridge is not None:
            self.bridge.stop()
        self.ingest_db.close()
        self.db.close()
        logger.info("central stopped")

    # ------------------------------------------------------------ actions

    def act(self, incident_id: int, action: incidents.Action, actor: str, *, note: str = "",
            outcome: Outcome | None = None) -> dict[str, Any]:
        """Apply a transition, send receipts to the venue devices, push it live.

        Call on the event loop thread (it uses the loop's connection).
        """
        result = incidents.transition(self.db, incident_id, action, actor, self.clock(),
                                      note=note, outcome=outcome)
        publish_receipts(self.publish, self.topics, result.receipts)
        if action == "resolve":  # ends a live view still running
            self.snapshot_control.incident_resolved(self.db, incident_id)
        self.hub.broadcast(result.incident)
        return result.incident

    # ------------------------------------------------------------ queries

    def health(self) -> dict[str, Any]:
        try:
            self.db.execute("SELECT 1").fetchone()
            db_state = "ok"
        except Exception as exc:  # any failure here means "not healthy"; report it
            logger.exception("health check: database failed")
            db_state = f"error: {exc}"
        if self.bridge is None:
            mqtt, error = "disabled", None
        else:
            mqtt = "connected" if self.bridge.ready else "disconnected"
            error = self.bridge.last_error
        return {"ok": db_state == "ok" and mqtt != "disconnected", "db": db_state,
                "mqtt": mqtt, "mqtt_error": error}

    def devices(self, station: str | None = None) -> list[dict[str, Any]]:
        """Every device (or one station's) with its supervision state for the board."""
        rows = registry.list_devices(self.db, station)
        board = self.supervisor.board()
        untested = commissioning.untested_zones(self.db)
        walking = commissioning.commissioning_devices(self.db)
        out = []
        for r in rows:
            extra = board.get(r["device_id"], {})
            out.append({**r, **extra,
                        "online": extra.get("state") == "online",
                        "untested_zones": untested.get(r["device_id"], []),
                        "commissioning": r["device_id"] in walking})
        return out

    # ------------------------------------------------------------ supervision

    async def _supervise(self) -> None:
        """Judge devices every check interval; push troubles; feed systemd's watchdog."""
        interval = self.config.supervision.check_interval_s
        ready = False
        while True:
            try:
                self.supervise_once()
            except sqlite3.Error:
                logger.exception("supervision check failed; retrying")
            else:
                if not ready:
                    ready = True
                    self.notifier.ready("supervising devices")
                self.notifier.watchdog()  # only while the loop runs and the db answers
            await asyncio.sleep(interval)

    def supervise_once(self) -> list[dict[str, Any]]:
        """One supervision pass (on the event loop thread); returns the pushed incidents."""
        self.supervisor.set_listening(self.bridge is None or self.bridge.ready)
        changed = self.supervisor.tick()
        for incident in changed:
            self.hub.broadcast(incident)
        return changed

    # ------------------------------------------------------------ commands

    def send_command(self, device_id: str, name: CommandName,
                     args: Mapping[str, DetailValue], actor: str,
                     ttl_s: float) -> dict[str, Any] | None:
        """Store and publish (QoS 1, never retained) a command; None for an unknown device."""
        if device_route(self.db, device_id) is None:
            return None
        now = self.clock()
        command = commands.build_command(name, args, actor, ttl_s, now)
        commands.store_command(self.db, device_id, command, now)
        self.publish(self.topics.cmd(device_id), encode(command))
        return commands.get_command(self.db, command.cmd_id, now)

    def commands(self, device_id: str, limit: int = 50) -> list[dict[str, Any]] | None:
        if device_route(self.db, device_id) is None:
            return None
        return commands.list_commands(self.db, device_id, self.clock(), limit)

    def stations(self) -> list[dict[str, Any]]:
        return registry.list_stations(self.db)

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        return list_dead_letters(self.db, limit)

