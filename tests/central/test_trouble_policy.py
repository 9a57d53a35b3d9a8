"""Troubles have a cooldown and quiet hours; fire, panic and medical never wait (planner on a
real SQLite file, events through the real ingest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import both_backends
from sqlite_utils import Database

from alarmlink import wire
from central.db import parse_iso
from central.escalation import planner
from central.escalation.config import EscalationConfig
from central.escalation.trouble_policy import after_quiet_hours
from central.ingest import Ingestor

# every storage test here runs on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend, db, ingestor = both_backends.backend, both_backends.db, both_backends.ingestor

TOPICS = wire.Topics()
NIGHT = datetime(2025, 6, 1, 15, 0, tzinfo=UTC)  # 23:00 in Asia/Shanghai


def _event(kind: wire.Kind, state: wire.State, zone: str) -> wire.Event:
    return wire.Event(event_id=wire.new_id(), device_id="school-01", seq=1, ts=wire.utcnow(),
                      kind=kind, state=state, zone=zone, source=wire.Source.GPIO)


def _open(db: Database, ingestor: Ingestor, kind: wire.Kind, state: wire.State,
          zone: str) -> int:
    ingestor.handle(TOPICS.event("school-01"), wire.encode(_event(kind, state, zone)))
    row = next(db.query("SELECT id FROM incidents ORDER BY id DESC LIMIT 1"))
    return int(row["id"])


def _resolve(db: Database, incident_id: int) -> None:
    db.execute("UPDATE incidents SET status = 'resolved' WHERE id = ?", [incident_id])


def _escalation(db: Database, incident_id: int) -> dict[str, object]:
    return dict(next(db.query("SELECT * FROM escalations WHERE incident_id = ?",
                              [incident_id])))


def test_second_trouble_in_cooldown_is_not_escalated_but_alarms_always_are(
        db: Database, ingestor: Ingestor) -> None:
    config = EscalationConfig(trouble_cooldown_s=600)
    now = wire.utcnow()
    first = _open(db, ingestor, wire.Kind.TROUBLE, wire.State.TROUBLE, "cabinet-tamper")
    planner.plan(db, config, now)
    assert _escalation(db, first)["stopped_reason"] is None
    _resolve(db, first)
    second = _open(db, ingestor, wire.Kind.TROUBLE, wire.State.TROUBLE, "cabinet-tamper")
    planner.plan(db, config, now)
    assert _escalation(db, second)["stopped_reason"] == "cooldown"
    log = [r["action"] for r in db.query("SELECT action FROM incident_log WHERE "
                                         "incident_id = ?", [second])]
    assert "escalation_suppressed" in log
    for kind in (wire.Kind.FIRE, wire.Kind.PANIC, wire.Kind.MEDICAL):
        alarm = _open(db, ingestor, kind, wire.State.ALARM, "gate-button")
        planner.plan(db, config, now)
        assert _escalation(db, alarm)["stopped_reason"] in (None, "all stages run")
        _resolve(db, alarm)
    # without a cooldown the same second trouble would have escalated
    assert EscalationConfig(trouble_cooldown_s=0).trouble_cooldown_s == 0


def test_quiet_hours_defer_troubles_to_their_end_never_alarms(db: Database,
                                                              ingestor: Ingestor) -> None:
    config = EscalationConfig(quiet_hours="22:00-07:00")
    assert after_quiet_hours(config, NIGHT) == datetime(2025, 6, 1, 23, 0, tzinfo=UTC)
    day = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)  # 12:00 local
    assert after_quiet_hours(config, day) == day
    trouble = _open(db, ingestor, wire.Kind.POWER, wire.State.TROUBLE, "cabinet-tamper")
    fire = _open(db, ingestor, wire.Kind.FIRE, wire.State.ALARM, "gate-button")
    for incident_id in (trouble, fire):
        db.execute("UPDATE incidents SET opened_at = ? WHERE id = ?",
                   [NIGHT.isoformat(), incident_id])
    planner.plan(db, config, NIGHT)
    deferred = parse_iso(str(_escalation(db, trouble)["next_at"]))
    assert deferred - NIGHT == timedelta(hours=8)  # 07:00 local, not 23:10
    fire_esc = _escalation(db, fire)
    assert fire_esc["stage"] >= 1  # type: ignore[operator]  # stage 0 ran at once
