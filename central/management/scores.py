"""Assessment (考评): scores for venues, stations and villages from the records, by
versioned rules.

A rule is ``{"base": number, "terms": [{"input": name, "weight": number}, ...]}``; the
score is ``base + Σ input × weight`` clamped to 0..100. Each stored score keeps its
inputs, its lines (input, value, weight, points) and the rule's id, so a month is
recomputed and explained line by line. Changing a rule stores a new version; scores of
the old version stay as they are.
"""

from __future__ import annotations

import json
import logging
import statistics
from datetime import datetime
from typing import Any, Final

from sqlite_utils import Database

from central.db import iso, query_one, write_tx
from central.management.common import MgmtError, dumps

logger = logging.getLogger(__name__)

STARTING_RULES: Final[dict[str, dict[str, Any]]] = {
    "venue": {"base": 80, "terms": [
        {"input": "hazards_closed_on_time", "weight": 2},
        {"input": "hazards_open", "weight": -5},
        {"input": "reinspections_failed", "weight": -3},
        {"input": "false_alarms", "weight": -2},
        {"input": "drills", "weight": 5}]},
    "station": {"base": 60, "terms": [
        {"input": "inspections", "weight": 0.2},
        {"input": "notices_closed_on_time", "weight": 1},
        {"input": "notices_overdue", "weight": -2},
        {"input": "ack_median_s", "weight": -0.1}]},
    "village": {"base": 60, "terms": [
        {"input": "drills", "weight": 5},
        {"input": "patrols", "weight": 1},
        {"input": "alarms_acknowledged", "weight": 1}]},
}


def _month(period: str) -> tuple[str, str]:
    try:
        start = datetime.strptime(period, "%Y-%m")
    except ValueError:
        raise MgmtError(f"period {period!r} not understood: write YYYY-MM") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else \
        start.replace(month=start.month + 1)
    return f"{start:%Y-%m-%d}T00:00:00", f"{end:%Y-%m-%d}T00:00:00"


def seed(db: Database, now: datetime) -> None:
    with write_tx(db):
        for subject, weights in STARTING_RULES.items():
            db.execute("INSERT OR IGNORE INTO score_rules (subject, version, weights, "
                       "created_at, created_by) VALUES (?, 1, ?, ?, 'system')",
                       [subject, dumps(weights), iso(now)])


def current_rule(db: Database, subject: str) -> dict[str, Any]:
    row = query_one(db, "SELECT * FROM score_rules WHERE subject = ? ORDER BY version DESC "
                        "LIMIT 1", [subject])
    if row is None:
        raise MgmtError(f"no score rule for {subject!r}", 404)
    return {**dict(row), "weights": json.loads(row["weights"])}


def new_rule(db: Database, subject: str, weights: dict[str, Any], actor: str,
             now: datetime) -> dict[str, Any]:
    """Store ``weights`` as the subject's next rule version."""
    known = set(_INPUTS[subject](db, "", "", "").keys()) if subject in _INPUTS else set()
    bad = [t["input"] for t in weights.get("terms", []) if t["input"] not in known]
    if bad:
        raise MgmtError(f"unknown score input {bad[0]!r}: one of {', '.join(sorted(known))}")
    with write_tx(db):
        version = int(current_rule(db, subject)["version"]) + 1
        db.execute("INSERT INTO score_rules (subject, version, weights, created_at, created_by) "
                   "VALUES (?, ?, ?, ?, ?)", [subject, version, dumps(weights), iso(now), actor])
    return current_rule(db, subject)


def _count(db: Database, sql: str, args: list[Any]) -> int:
    return int(db.execute(sql, args).fetchone()[0])


def _venue_inputs(db: Database, venue: str, since: str, until: str) -> dict[str, float]:
    a = [venue, since, until]
    return {
        "hazards_closed_on_time": _count(db, "SELECT count(*) FROM hazards h JOIN notice_hazards "
                                         "nh ON nh.hazard_id = h.id JOIN notices n ON n.id = "
                                         "nh.notice_id WHERE h.venue_id = ? AND n.closed_on_time "
                                         "= 1 AND n.closed_at >= ? AND n.closed_at < ?", a),
        "hazards_open": _count(db, "SELECT count(*) FROM hazards WHERE venue_id = ? AND found_at "
                               ">= ? AND found_at < ? AND (closed_at IS NULL OR closed_at >= ?)",
                               [*a, until]),
        "reinspections_failed": _count(db, "SELECT count(*) FROM inspections WHERE venue_id = ? "
                                       "AND kind = 'reinspection' AND passed = 0 AND "
                                       "inspected_at >= ? AND inspected_at < ?", a),
        "false_alarms": _count(db, "SELECT count(*) FROM incidents WHERE venue_id = ? AND "
                               "outcome = 'false_alarm' AND opened_at >= ? AND opened_at < ?", a),
        "drills": _count(db, "SELECT count(*) FROM drills WHERE venue_id = ? AND kind = 'drill' "
                         "AND held_at >= ? AND held_at < ?", a),
    }


def _station_inputs(db: Database, station: str, since: str, until: str) -> dict[str, float]:
    a = [station, since, until]
    acks = [r[0] for r in db.execute(
        "SELECT (julianday(acknowledged_at) - julianday(opened_at)) * 86400 FROM incidents "
        "WHERE station_id = ? AND category = 'alarm' AND acknowledged_at IS NOT NULL AND "
        "opened_at >= ? AND opened_at < ?", a).fetchall()]
    return {
        "inspections": _count(db, "SELECT count(*) FROM inspections WHERE station_id = ? AND "
                              "kind = 'routine' AND inspected_at >= ? AND inspected_at < ?", a),
        "notices_closed_on_time": _count(db, "SELECT count(*) FROM notices WHERE station_id = ? "
                                         "AND closed_on_time = 1 AND closed_at >= ? AND "
                                         "closed_at < ?", a),
        "notices_overdue": _count(db, "SELECT count(*) FROM notices WHERE station_id = ? AND "
                                  "escalated_at >= ? AND escalated_at < ?", a),
        "ack_median_s": round(statistics.median(acks), 3) if acks else 0.0,
    }


def _village_inputs(db: Database, village: str, since: str, until: str) -> dict[str, float]:
    a = [village, since, until]
    return {
        "drills": _count(db, "SELECT count(*) FROM drills d JOIN volunteer_teams t ON t.id = "
                         "d.team_id WHERE t.village_id = ? AND d.kind = 'drill' AND d.held_at "
                         ">= ? AND d.held_at < ?", a),
        "patrols": _count(db, "SELECT count(*) FROM drills d JOIN volunteer_teams t ON t.id = "
                          "d.team_id WHERE t.village_id = ? AND d.kind = 'patrol' AND "
                          "d.held_at >= ? AND d.held_at < ?", a),
        "alarms_acknowledged": _count(db, "SELECT count(*) FROM incidents i JOIN venues v ON "
                                      "v.id = i.venue_id WHERE v.village_id = ? AND "
                                      "i.acknowledged_at IS NOT NULL AND i.opened_at >= ? AND "
                                      "i.opened_at < ?", a),
    }


_INPUTS = {"venue": _venue_inputs, "station": _station_inputs, "village": _village_inputs}
_SUBJECTS = {"venue": "SELECT id FROM venues", "station": "SELECT id FROM stations",
             "village": "SELECT id FROM villages"}


def score(weights: dict[str, Any], inputs: dict[str, float]) -> tuple[float, list[dict[str, Any]]]:
    lines = [{"input": "base", "value": None, "weight": None, "points": weights["base"]}]
    total = float(weights["base"])
    for term in weights["terms"]:
        value = float(inputs[term["input"]])
        points = round(value * float(term["weight"]), 3)
        lines.append({"input": term["input"], "value": value, "weight": term["weight"],
                      "points": points})
        total += points
    return round(min(100.0, max(0.0, total)), 2), lines


def compute(db: Database, subject: str, period: str, now: datetime,
            version: int | None = None) -> dict[str, Any]:
    """Compute (or recompute) every score of ``subject`` for the month ``period``.

    An existing score of the same rule version is compared, not rewritten: ``changed``
    lists the subjects whose recomputed score differs from the stored one."""
    since, until = _month(period)
    rule = current_rule(db, subject) if version is None else dict(query_one(
        db, "SELECT * FROM score_rules WHERE subject = ? AND version = ?",
        [subject, version]) or {})
    if not rule:
        raise MgmtError(f"no {subject} score rule version {version}", 404)
    weights = rule["weights"] if isinstance(rule["weights"], dict) else json.loads(rule["weights"])
    changed, out = [], []
    with write_tx(db):
        for row in db.query(_SUBJECTS[subject] + " ORDER BY id"):
            inputs = _INPUTS[subject](db, row["id"], since, until)
            value, lines = score(weights, inputs)
            stored = query_one(db, "SELECT inputs, lines, score FROM scores WHERE subject = ? "
                                   "AND subject_id = ? AND period = ? AND rule_id = ?",
                               [subject, row["id"], period, rule["id"]])
            if stored is None:
                db.execute("INSERT INTO scores (subject, subject_id, period, rule_id, inputs, "
                           "lines, score, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           [subject, row["id"], period, rule["id"], dumps(inputs), dumps(lines),
                            value, iso(now)])
            elif (stored["inputs"], stored["lines"], stored["score"]) != (
                    dumps(inputs), dumps(lines), value):
                changed.append(row["id"])
            out.append({"subject_id": row["id"], "score": value})
    return {"subject": subject, "period": period, "rule_version": rule["version"],
            "scores": out, "changed": changed}


def explain(db: Database, subject: str, subject_id: str, period: str) -> list[dict[str, Any]]:
    """Every stored score of the subject for the month, newest rule first, with its lines."""
    return [{**dict(r), "inputs": json.loads(r["inputs"]), "lines": json.loads(r["lines"])}
            for r in db.query("SELECT s.score, s.inputs, s.lines, s.computed_at, r.version "
                              "AS rule_version FROM scores s JOIN score_rules r ON r.id = "
                              "s.rule_id WHERE s.subject = ? AND s.subject_id = ? AND "
                              "s.period = ? ORDER BY r.version DESC",
                              [subject, subject_id, period])]


def ranking(db: Database, subject: str, period: str, county: str) -> list[dict[str, Any]]:
    """The month's ranking of one county's venues, stations or villages (newest rule)."""
    rule = current_rule(db, subject)
    station_of = {"venue": "(SELECT station_id FROM venues WHERE id = s.subject_id)",
                  "station": "s.subject_id",
                  "village": "(SELECT station_id FROM villages WHERE id = s.subject_id)"}
    rows = db.query(f"SELECT s.subject_id, s.score FROM scores s JOIN stations st ON st.id = "
                    f"{station_of[subject]} WHERE s.subject = ? AND s.period = ? AND "
                    "s.rule_id = ? AND st.county_id = ? ORDER BY s.score DESC, s.subject_id",
                    [subject, period, rule["id"], county])
    return [{"rank": i, **dict(r)} for i, r in enumerate(rows, 1)]
