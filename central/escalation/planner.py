"""Escalation state in the database: which stage is due, who it reaches, and the
notifications it queues. Runs only on the writer thread (jobs of the scheduler).

* An open, unacknowledged incident with a policy gets one ``escalations`` row
  (stage 0, ``next_at`` = opened + stage 0's ``after_s``).
* A due stage queues one notification per (recipient, channel) with the idempotency key
  ``incident:stage:recipient:channel`` (``INSERT OR IGNORE``): planned twice, sent once.
  Its ``next_at`` then moves to the next stage's time; a stage that reaches nobody is
  logged ``stage_skipped`` and the next stage is planned in the same pass (at once).
* An acknowledgement (console, SMS reply, key press), or the incident leaving the open
  states, stops the escalation and cancels every queued notification, for everyone.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from central import incidents
from central.db import OPEN_STATUSES, iso, parse_iso, query_one, write_tx
from central.escalation import roster, trouble_policy
from central.escalation.config import EscalationConfig, StageConfig

logger = logging.getLogger(__name__)

SYSTEM = "escalation"
KIND_ZH = {"fire": "火警", "smoke": "烟感报警", "heat": "温感报警", "panic": "一键报警",
           "medical": "医疗求助", "tamper": "防拆报警", "trouble": "故障", "power": "电源故障",
           "test": "测试"}
_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)


def message_for(incident: dict[str, Any], prefix: str = "【报警】") -> str:
    zones = incident.get("zones") or {}
    if isinstance(zones, str):
        zones = json.loads(zones)
    kind = KIND_ZH.get(incident["kind"], incident["kind"])
    return (f"{prefix}{incident['venue_name']}{kind}，区域：{', '.join(zones) or '-'}，"
            f"地址：{incident['venue_address'] or '-'}。事件{incident['id']}，"
            f"回复1或“ACK {incident['id']}”确认接警。")


def _incident(db: Database, incident_id: int) -> dict[str, Any] | None:
    return incidents.get_incident(db, incident_id)


def recipients(db: Database, incident: dict[str, Any], target: str,
               now: datetime) -> list[tuple[str, str]]:
    """(recipient name, phone) for one stage target; users without a mobile left out."""
    if target in ("duty", "leader"):
        duty = "officer" if target == "duty" else "leader"
        return [(r["username"], r["mobile"]) for r in roster.on_duty(db, incident["station_id"],
                                                                     now)
                if r["duty"] == duty and r["mobile"]]
    if target == "county":
        rows = db.query(
            "SELECT u.username, u.mobile FROM users u JOIN stations s ON s.county_id = u.node_id "
            "WHERE s.id = ? AND u.role = 'county_command' AND u.node_kind = 'county' "
            "AND u.disabled_at IS NULL AND u.mobile != '' ORDER BY u.username",
            [incident["station_id"]])
        return [(r["username"], r["mobile"]) for r in rows]
    venue = query_one(db, "SELECT kind, contacts FROM venues WHERE id = ?",
                      [incident["venue_id"]])
    if venue is None:
        return []
    roles = {"village": ("village_assistant", "volunteer"), "keyholders": ("keyholder",)}[target]
    if target == "village" and venue["kind"] != "village":
        return []
    return [(f"contact:{c['name']}", c["phone"]) for c in json.loads(venue["contacts"])
            if c.get("role") in roles and c.get("phone")]


def queue(db: Database, incident_id: int, stage: str, recipient: str, phone: str,
          channel: str, message: str, now: datetime) -> bool:
    """Queue one notification; False when its idempotency key exists already."""
    key = f"{incident_id}:{stage}:{recipient}:{channel}"
    cur = db.execute(
        "INSERT OR IGNORE INTO notifications (incident_id, stage, recipient, phone, channel, "
        "idem_key, message, state, next_try_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
        "'queued', ?, ?)", [incident_id, stage, recipient, phone, channel, key, message,
                            iso(now), iso(now)])
    return cur.rowcount > 0


def plan(db: Database, config: EscalationConfig, now: datetime) -> list[int]:
    """One pass: start, stop and advance escalations. Returns incidents whose log grew."""
    touched: list[int] = []
    with write_tx(db):
        _start_new(db, config, now)
        touched += _stop_answered(db, now)
        due = list(db.query("SELECT * FROM escalations WHERE stopped_at IS NULL AND "
                            "next_at IS NOT NULL AND next_at <= ?", [iso(now)]))
        for esc in due:
            if _advance(db, config, esc, now):
                touched.append(int(esc["incident_id"]))
    return touched


def _start_new(db: Database, config: EscalationConfig, now: datetime) -> None:
    since = iso(now - timedelta(days=1))
    rows = db.query(
        "SELECT i.id, i.category, i.station_id, i.venue_id, i.opened_at FROM incidents i "
        "LEFT JOIN escalations e ON e.incident_id = i.id WHERE e.incident_id IS NULL "
        "AND i.status = 'new' AND i.acknowledged_at IS NULL AND i.opened_at >= ?", [since])
    for row in list(rows):
        chosen = config.policy_for(row["station_id"], row["category"])
        if chosen is None or not chosen[1].stages:
            continue
        key, policy = chosen
        opened = parse_iso(row["opened_at"])
        first = opened + timedelta(seconds=policy.stages[0].after_s)
        if row["category"] == "trouble":  # alarms are never suppressed nor delayed
            if trouble_policy.in_cooldown(db, config, row["venue_id"], row["id"], opened):
                db.execute("INSERT INTO escalations (incident_id, policy, stage, next_at, "
                           "started_at, stopped_at, stopped_reason) VALUES (?, ?, 0, NULL, "
                           "?, ?, 'cooldown')", [row["id"], key, iso(now), iso(now)])
                incidents.log_action(db, row["id"], iso(now), SYSTEM, "escalation_suppressed",
                                     {"reason": "trouble cooldown",
                                      "cooldown_s": config.trouble_cooldown_s})
                logger.info("incident %s: trouble in cooldown, not escalated", row["id"])
                continue
            waited = trouble_policy.after_quiet_hours(config, first)
            if waited != first:
                incidents.log_action(db, row["id"], iso(now), SYSTEM, "escalation_deferred",
                                     {"reason": "quiet hours", "until": iso(waited)})
                first = waited
        db.execute("INSERT INTO escalations (incident_id, policy, stage, next_at, started_at) "
                   "VALUES (?, ?, 0, ?, ?)", [row["id"], key, iso(first), iso(now)])
        logger.info("incident %s: escalation started (policy %s)", row["id"], key)


def _stop_answered(db: Database, now: datetime) -> list[int]:
    rows = list(db.query(
        "SELECT e.incident_id, i.status, i.acknowledged_by FROM escalations e "
        f"JOIN incidents i ON i.id = e.incident_id WHERE e.stopped_at IS NULL AND "
        f"(i.acknowledged_at IS NOT NULL OR i.status NOT IN ({_OPEN}))"))
    for row in rows:
        reason = (f"acknowledged by {row['acknowledged_by']}" if row["acknowledged_by"]
                  else row["status"])
        stop(db, int(row["incident_id"]), reason, now)
    return [int(r["incident_id"]) for r in rows]


def stop(db: Database, incident_id: int, reason: str, now: datetime) -> int:
    """Stop the escalation and cancel what is queued; returns the cancelled count."""
    db.execute("UPDATE escalations SET stopped_at = ?, stopped_reason = ?, next_at = NULL "
               "WHERE incident_id = ? AND stopped_at IS NULL", [iso(now), reason, incident_id])
    cancelled = db.execute("UPDATE notifications SET state = 'cancelled', last_error = ? "
                           "WHERE incident_id = ? AND state = 'queued'",
                           [reason, incident_id]).rowcount
    incidents.log_action(db, incident_id, iso(now), SYSTEM, "escalation_stopped",
                         {"reason": reason, "cancelled": cancelled})
    logger.info("incident %s: escalation stopped (%s), %s queued notification(s) cancelled",
                incident_id, reason, cancelled)
    return cancelled


def _advance(db: Database, config: EscalationConfig, esc: dict[str, Any], now: datetime) -> bool:
    policy = config.policies.get(esc["policy"])
    incident = _incident(db, int(esc["incident_id"]))
    if policy is None or incident is None:
        db.execute("UPDATE escalations SET stopped_at = ?, stopped_reason = 'no policy', "
                   "next_at = NULL WHERE incident_id = ?", [iso(now), esc["incident_id"]])
        return False
    opened = parse_iso(incident["opened_at"])
    stage = int(esc["stage"])
    while stage < len(policy.stages):
        reached = _run_stage(db, incident, stage, policy.stages[stage], now)
        stage += 1
        if stage >= len(policy.stages):
            db.execute("UPDATE escalations SET stage = ?, next_at = NULL, stopped_at = ?, "
                       "stopped_reason = 'all stages run' WHERE incident_id = ?",
                       [stage, iso(now), incident["id"]])
            return True
        next_at = opened + timedelta(seconds=policy.stages[stage].after_s)
        if not reached:  # skipped: the next stage runs at once
            next_at = min(next_at, now)
        db.execute("UPDATE escalations SET stage = ?, next_at = ? WHERE incident_id = ?",
                   [stage, iso(next_at), incident["id"]])
        if next_at > now:
            return True
    return True


def _run_stage(db: Database, incident: dict[str, Any], index: int, stage: StageConfig,
               now: datetime) -> bool:
    """Queue the stage's notifications; False when it reaches nobody (then skipped).
    A stage with the ``console`` target always reaches someone: the station's consoles."""
    people: list[tuple[str, str]] = []
    console = "console" in stage.targets
    for target in stage.targets:
        if target == "console":
            continue
        for person in recipients(db, incident, target, now):
            if person not in people:
                people.append(person)
    at = iso(now)
    if console and (not people or not stage.channels):
        incidents.log_action(db, incident["id"], at, SYSTEM, "escalation_stage",
                             {"stage": index, "targets": stage.targets, "recipients": []})
        return True
    if not people or not stage.channels:
        incidents.log_action(db, incident["id"], at, SYSTEM, "stage_skipped",
                             {"stage": index, "targets": stage.targets,
                              "reason": "nobody reachable"})
        logger.warning("incident %s: escalation stage %s (%s) reaches nobody: skipped",
                       incident["id"], index, ", ".join(stage.targets))
        return False
    message = message_for(incident)
    for name, phone in people:
        for channel in stage.channels:
            queue(db, incident["id"], str(index), name, phone, channel, message, now)
    incidents.log_action(db, incident["id"], at, SYSTEM, "escalation_stage",
                         {"stage": index, "targets": stage.targets, "channels": stage.channels,
                          "recipients": [n for n, _ in people]})
    logger.info("incident %s: escalation stage %s to %s", incident["id"], index,
                ", ".join(n for n, _ in people))
    return True


# ------------------------------------------------------------------ sending


def due_notifications(db: Database, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM notifications WHERE state = 'queued' AND "
                         "next_try_at <= ? ORDER BY next_try_at, id LIMIT ?", [iso(now), limit]))


def claim(db: Database, notification_id: int, now: datetime) -> dict[str, Any] | None:
    """Mark a queued notification ``sending`` unless its incident was acknowledged."""
    with write_tx(db):
        row = query_one(db, "SELECT n.*, i.acknowledged_at, i.status FROM notifications n "
                            "JOIN incidents i ON i.id = n.incident_id WHERE n.id = ?",
                        [notification_id])
        if row is None or row["state"] != "queued":
            return None
        service = row["stage"].startswith("service:")
        if not service and (row["acknowledged_at"] is not None
                            or row["status"] not in OPEN_STATUSES):
            db.execute("UPDATE notifications SET state = 'cancelled', last_error = "
                       "'acknowledged' WHERE id = ?", [notification_id])
            return None
        db.execute("UPDATE notifications SET state = 'sending', attempts = attempts + 1 "
                   "WHERE id = ?", [notification_id])
    return row


def record_result(db: Database, config: EscalationConfig, notification_id: int, ok: bool,
                  detail: str, refs: list[int], now: datetime) -> str:
    """Log the attempt; sent, retried with backoff, or failed (then the fallback channel)."""
    at = iso(now)
    with write_tx(db):
        row = query_one(db, "SELECT * FROM notifications WHERE id = ?", [notification_id])
        assert row is not None
        db.execute("INSERT INTO notification_attempts (notification_id, at, result, detail) "
                   "VALUES (?, ?, ?, ?)", [notification_id, at, "ok" if ok else "error", detail])
        if ok:
            db.execute("UPDATE notifications SET state = 'sent', sent_at = ?, refs = ?, "
                       "last_error = NULL WHERE id = ?", [at, json.dumps(refs), notification_id])
            incidents.log_action(db, row["incident_id"], at, SYSTEM, "notified",
                                 {"stage": row["stage"], "recipient": row["recipient"],
                                  "channel": row["channel"], "detail": detail})
            return "sent"
        if row["attempts"] < config.max_attempts:
            delay = min(config.backoff_s * 2 ** (row["attempts"] - 1), config.backoff_max_s)
            db.execute("UPDATE notifications SET state = 'queued', next_try_at = ?, "
                       "last_error = ? WHERE id = ?",
                       [iso(now + timedelta(seconds=delay)), detail, notification_id])
            logger.warning("notification %s (%s to %s) attempt %s failed: %s; retry in %.0f s",
                           notification_id, row["channel"], row["recipient"], row["attempts"],
                           detail, delay)
            return "retry"
        db.execute("UPDATE notifications SET state = 'failed', last_error = ? WHERE id = ?",
                   [detail, notification_id])
        fallback = config.fallback.get(row["channel"])
        queued_fallback = fallback is not None and queue(
            db, row["incident_id"], row["stage"], row["recipient"], row["phone"], fallback,
            row["message"], now)
        incidents.log_action(db, row["incident_id"], at, SYSTEM, "notify_failed",
                             {"stage": row["stage"], "recipient": row["recipient"],
                              "channel": row["channel"], "error": detail,
                              "fallback": fallback if queued_fallback else None})
    logger.error("notification %s (%s to %s) failed after %s attempts: %s%s", notification_id,
                 row["channel"], row["recipient"], row["attempts"], detail,
                 f"; trying {fallback}" if queued_fallback else "")
    return "failed"


def mark_delivered(db: Database, reference: int, recipient: str, delivered: bool,
                   now: datetime) -> None:
    """A delivery report: the newest sent SMS to ``recipient`` holding ``reference``."""
    with write_tx(db):
        for row in db.query("SELECT id, phone, refs FROM notifications WHERE channel = 'sms' "
                            "AND state IN ('sent', 'delivered') ORDER BY id DESC LIMIT 200"):
            if reference in json.loads(row["refs"]):
                db.execute("INSERT INTO notification_attempts (notification_id, at, result, "
                           "detail) VALUES (?, ?, ?, ?)",
                           [row["id"], iso(now), "delivery_report",
                            "delivered" if delivered else "not delivered"])
                if delivered:
                    db.execute("UPDATE notifications SET state = 'delivered', delivered_at = ? "
                               "WHERE id = ?", [iso(now), row["id"]])
                return


def recover_interrupted(db: Database, now: datetime) -> int:
    """At start: a notification left ``sending`` by a crash is queued again (at least once
    beats never for an alarm); returns how many."""
    with write_tx(db):
        return db.execute("UPDATE notifications SET state = 'queued', next_try_at = ?, "
                          "last_error = 'interrupted by a restart' WHERE state = 'sending'",
                          [iso(now)]).rowcount
