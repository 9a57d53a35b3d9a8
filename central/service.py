"""The running central: databases, ingest, MQTT bridge and live hub wired together.

Two database connections: one for the MQTT thread (ingest), one for the event
loop (API and WebSocket). :mod:`central.db` explains why.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from datetime import timedelta
from typing import Any

from alarmlink.wire import Outcome, Topics, utcnow
from central import incidents
from central.config import CentralConfig
from central.db import iso, open_db
from central.ingest import Clock, Ingestor, Publish, publish_receipts
from central.live import LiveHub
from central.mqtt_bridge import MqttBridge
from central.registry import load_registry

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
        self.ingestor = Ingestor(self.ingest_db, self.topics, self.publish,
                                 self.hub.submit_threadsafe, clock,
                                 clock_skew_threshold_s=config.clock_skew_threshold_s)
        if publisher is None:
            self.bridge = MqttBridge(config.broker, self.ingestor)

    def publish(self, topic: str, payload: bytes) -> None:
        if self._publisher is not None:
            self._publisher(topic, payload)
        elif self.bridge is not None:
            self.bridge.publish(topic, payload)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.hub.bind(loop)
        if self.bridge is not None:
            self.bridge.start()
        logger.info("central started (db %s)", self.config.db_path)

    def stop(self) -> None:
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

    def devices(self) -> list[dict[str, Any]]:
        cutoff = iso(self.clock() - timedelta(seconds=self.config.heartbeat_timeout_s))
        rows = self.db.query(
            "SELECT d.id AS device_id, d.venue_id, v.name AS venue_name, v.station_id, d.zones, "
            "s.availability, s.last_seen, s.last_heartbeat, s.clock_offset_s, "
            "coalesce(s.boot_id, '') AS boot_id, coalesce(s.version, '') AS version, "
            "coalesce(s.config_hash, '') AS config_hash, s.outbox_depth "
            "FROM devices d JOIN venues v ON v.id = d.venue_id "
            "LEFT JOIN device_state s ON s.device_id = d.id ORDER BY d.id")
        return [{**r, "zones": json.loads(r["zones"]),
                 "online": r["availability"] == "online" and (r["last_seen"] or "") >= cutoff}
                for r in rows]

    def stations(self) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT s.id, s.name, s.county_id, c.name AS county_name, s.phone, "
            "(SELECT count(*) FROM venues v WHERE v.station_id = s.id) AS venues, "
            "(SELECT count(*) FROM incidents i WHERE i.station_id = s.id AND "
            "i.status IN ('new', 'acknowledged', 'dispatched')) AS open_incidents "
            "FROM stations s JOIN counties c ON c.id = s.county_id ORDER BY s.id"))

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        return [dead_letter_view(r) for r in self.db.query(
            "SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?", [limit])]


def dead_letter_view(row: dict[str, Any]) -> dict[str, Any]:
    payload: bytes = row["payload"]
    return {"id": row["id"], "received_at": row["received_at"], "topic": row["topic"],
            "device_id": row["device_id"], "payload_size": row["payload_size"],
            "payload_preview": payload[:512].decode("utf-8", errors="replace"),
            "payload_b64": base64.b64encode(payload).decode(), "reason": row["reason"]}

