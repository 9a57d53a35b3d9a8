"""Rules, as data, that open hazards from what the devices already report.

Each rule is a row of ``telemetry_rules`` (code, kind, params). :func:`run` evaluates every
enabled rule over the history (incidents, their log, events) and opens at most one hazard
per venue and rule (an open one is not opened again), with the evidence it matched.

Kinds:

* ``offline``: devices (of ``device_class``, any if null) offline more than ``hours`` in
  the last ``window_days`` days, from supervision's "device offline"/"device online" log;
* ``false_alarms``: more than ``count`` alarms resolved as false in ``window_days`` days;
* ``trouble_uncleared``: a detector trouble (not a camera's) with no restore of its zone
  within ``hours``;
* ``camera_offline``: a camera offline more than ``hours`` in the last ``window_days``
  days, from the edge agent's camera trouble/restore events (source ``camera``).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Final

from sqlite_utils import Database

from central.db import iso, parse_iso, query_one, write_tx
from central.management import notices
from central.management.common import dumps

logger = logging.getLogger(__name__)

STARTING_RULES: Final[list[dict[str, Any]]] = [
    {"code": "device-offline-24h-week", "kind": "offline",
     "params": {"hours": 24, "window_days": 7, "device_class": None},
     "description": "设备一周内离线超过24小时"},
    {"code": "false-alarms-30d", "kind": "false_alarms",
     "params": {"count": 3, "window_days": 30},
     "description": "30天内误报超过3次"},
    {"code": "trouble-uncleared-48h", "kind": "trouble_uncleared", "params": {"hours": 48},
     "description": "探测器故障48小时未排除"},
    {"code": "camera-offline-24h", "kind": "camera_offline",
     "params": {"hours": 24, "window_days": 7},
     "description": "摄像机离线超过24小时"},
]



def seed(db: Database) -> None:
    with write_tx(db):
        for rule in STARTING_RULES:
            db.execute("INSERT OR IGNORE INTO telemetry_rules (code, kind, params, description) "
                       "VALUES (?, ?, ?, ?)", [rule["code"], rule["kind"],
                                               dumps(rule["params"]), rule["description"]])
        camera = STARTING_RULES[3]
        db.execute("UPDATE telemetry_rules SET kind = ?, params = ? WHERE code = ? AND "
                   "kind = 'offline' AND json_extract(params, '$.device_class') = 'camera'",
                   [camera["kind"], dumps(camera["params"]), camera["code"]])


def rules(db: Database) -> list[dict[str, Any]]:
    return [{**dict(r), "params": json.loads(r["params"])} for r in db.query(
        "SELECT * FROM telemetry_rules ORDER BY code")]


def _offline(db: Database, params: dict[str, Any], now: datetime
             ) -> dict[str, list[dict[str, Any]]]:
    start = now - timedelta(days=int(params["window_days"]))
    device_class = params.get("device_class")
    sql = ("SELECT l.incident_id, l.at, l.action, json_extract(l.detail, '$.device_id') AS dev, "
           "d.venue_id, d.device_class FROM incident_log l JOIN devices d ON d.id = "
           "json_extract(l.detail, '$.device_id') WHERE l.action IN ('device offline', "
           "'device stopped', 'device online') ORDER BY l.at, l.id")
    per_device: dict[str, list[dict[str, Any]]] = {}
    for row in db.query(sql):
        if device_class is not None and row["device_class"] != device_class:
            continue
        per_device.setdefault(row["dev"], []).append(dict(row))
    matched: dict[str, list[dict[str, Any]]] = {}
    for device, log in per_device.items():
        total, down_at, evidence = 0.0, None, []
        for entry in log:
            at = parse_iso(entry["at"])
            if entry["action"] != "device online":
                down_at = down_at or at
                evidence.append({"incident": entry["incident_id"], "device": device})
            elif down_at is not None:
                total += max(0.0, (at - max(down_at, start)).total_seconds())
                down_at = None
        if down_at is not None:
            total += max(0.0, (now - max(down_at, start)).total_seconds())
        if total > float(params["hours"]) * 3600:
            venue = log[0]["venue_id"]
            matched.setdefault(venue, []).extend(
                [*{json.dumps(e, sort_keys=True): e for e in evidence}.values(),
                 {"device": device, "offline_h": round(total / 3600, 1)}])
    return matched


def _false_alarms(db: Database, params: dict[str, Any], now: datetime
                  ) -> dict[str, list[dict[str, Any]]]:
    since = iso(now - timedelta(days=int(params["window_days"])))
    rows: dict[str, list[dict[str, Any]]] = {}
    for r in db.query("SELECT id, venue_id FROM incidents WHERE category = 'alarm' AND "
                      "outcome = 'false_alarm' AND opened_at >= ? ORDER BY id", [since]):
        rows.setdefault(r["venue_id"], []).append({"incident": r["id"]})
    return {v: e for v, e in rows.items() if len(e) > int(params["count"])}


def _trouble_uncleared(db: Database, params: dict[str, Any], now: datetime
                       ) -> dict[str, list[dict[str, Any]]]:
    bound = timedelta(hours=float(params["hours"]))
    matched: dict[str, list[dict[str, Any]]] = {}
    for r in db.query("SELECT event_id, device_id, venue_id, zone, ts, incident_id FROM events "
                      "WHERE state = 'trouble' AND test = 0 AND source != 'camera' "
                      "ORDER BY ts"):
        due = parse_iso(r["ts"]) + bound
        if due > now:
            continue
        cleared = query_one(db, "SELECT event_id FROM events WHERE device_id = ? AND zone = ? "
                                "AND state = 'restore' AND ts > ? AND ts <= ? LIMIT 1",
                            [r["device_id"], r["zone"], r["ts"], iso(due)])
        if cleared is None:
            matched.setdefault(r["venue_id"], []).append(
                {"event": r["event_id"], "incident": r["incident_id"], "zone": r["zone"]})
    return matched


def _camera_offline(db: Database, params: dict[str, Any], now: datetime
                    ) -> dict[str, list[dict[str, Any]]]:
    start = now - timedelta(days=int(params["window_days"]))
    per_camera: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in db.query("SELECT event_id, device_id, venue_id, zone, ts, state, incident_id "
                      "FROM events WHERE source = 'camera' AND kind = 'trouble' AND test = 0 "
                      "AND state IN ('trouble', 'restore') ORDER BY ts"):
        per_camera.setdefault((r["device_id"], r["zone"]), []).append(dict(r))
    matched: dict[str, list[dict[str, Any]]] = {}
    for (device, zone), log in per_camera.items():
        total, down_at, evidence = 0.0, None, []
        for entry in log:
            at = parse_iso(entry["ts"])
            if entry["state"] == "trouble":
                down_at = down_at or at
                evidence.append({"event": entry["event_id"], "incident": entry["incident_id"],
                                 "zone": zone})
            elif down_at is not None:
                total += max(0.0, (at - max(down_at, start)).total_seconds())
                down_at = None
        if down_at is not None:
            total += max(0.0, (now - max(down_at, start)).total_seconds())
        if total > float(params["hours"]) * 3600:
            matched.setdefault(log[0]["venue_id"], []).extend(
                [*evidence, {"device": device, "zone": zone, "offline_h": round(total / 3600, 1)}])
    return matched


_KINDS = {"offline": _offline, "false_alarms": _false_alarms,
          "trouble_uncleared": _trouble_uncleared, "camera_offline": _camera_offline}


def run(db: Database, now: datetime) -> list[dict[str, Any]]:
    """Evaluate every enabled rule; returns the hazards opened by this run."""
    opened = []
    for rule in rules(db):
        if not rule["enabled"]:
            continue
        for venue_id, evidence in sorted(_KINDS[rule["kind"]](db, rule["params"], now).items()):
            existing = query_one(db, "SELECT id FROM hazards WHERE venue_id = ? AND "
                                     "rule_code = ? AND status != 'closed'",
                                 [venue_id, rule["code"]])
            if existing is not None:
                continue
            opened.append(notices.add_hazard(
                db, venue_id=venue_id, severity="general", description=rule["description"],
                location="", actor="system", found_at=now, now=now, source="telemetry",
                rule_code=rule["code"], evidence=evidence))
    if opened:
        logger.info("telemetry rules opened %s hazards", len(opened))
    return opened
