"""Hazards, rectification notices (责令改正通知书), proofs, re-inspection, escalation past
the deadline, penalty cases and fire investigations. Each step is on the hazard's
timeline (:func:`timeline`) with who and when."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from central.db import iso, parse_iso, query_one, write_tx
from central.management.common import MgmtError, dumps, hazard_event, need, row_out

logger = logging.getLogger(__name__)

SYSTEM = "system"


def add_hazard(db: Database, *, venue_id: str, severity: str, description: str,
               location: str, actor: str, found_at: datetime, now: datetime,
               source: str = "direct", rule_code: str | None = None,
               evidence: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    with write_tx(db):
        venue = need(db, "SELECT station_id FROM venues WHERE id = ?", [venue_id],
                     f"venue {venue_id}")
        cursor = db.execute(
            "INSERT INTO hazards (station_id, venue_id, source, rule_code, severity, "
            "description, location, status, evidence, found_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
            [venue["station_id"], venue_id, source, rule_code, severity, description,
             location, dumps(evidence or []), iso(found_at), actor])
        hazard_id = int(cursor.lastrowid or 0)
        hazard_event(db, hazard_id, now, actor, "found",
                     {"source": source, **({"rule": rule_code} if rule_code else {})})
    return get_hazard(db, hazard_id)


def get_hazard(db: Database, hazard_id: int) -> dict[str, Any]:
    row = row_out(need(db, "SELECT * FROM hazards WHERE id = ?", [hazard_id],
                       f"hazard {hazard_id}"), "evidence")
    assert row is not None
    return row


def timeline(db: Database, hazard_id: int) -> list[dict[str, Any]]:
    """The hazard's whole history, oldest first: found, photos, notice, proofs,
    re-inspections, escalation, penalty, closing."""
    return [row_out(dict(r), "detail") or {} for r in db.query(
        "SELECT at, actor, action, detail FROM hazard_events WHERE hazard_id = ? "
        "ORDER BY at, id", [hazard_id])]


def _next_number(db: Database, station_id: str, year: int) -> tuple[int, str]:
    last = query_one(db, "SELECT max(seq) AS s FROM notices WHERE station_id = ? AND year = ?",
                     [station_id, year])
    seq = int((last or {}).get("s") or 0) + 1
    return seq, f"{station_id}〔{year}〕{seq:04d}号"


def issue_notice(db: Database, *, hazard_ids: list[int], kind: str,
                 deadline: datetime | None, actor: str, now: datetime) -> dict[str, Any]:
    """A rectification notice for hazards of one venue, numbered per station and year."""
    if not hazard_ids:
        raise MgmtError("a notice names at least one hazard")
    if kind == "deadline" and (deadline is None or deadline <= now):
        raise MgmtError("a 责令限期改正 notice needs a deadline in the future")
    with write_tx(db):
        hazards = [get_hazard(db, h) for h in sorted(set(hazard_ids))]
        venues = {h["venue_id"] for h in hazards}
        if len(venues) != 1:
            raise MgmtError("a notice is for one venue: issue one notice per venue")
        if any(h["status"] != "open" for h in hazards):
            raise MgmtError("a hazard already has a notice or is closed: leave it out")
        station_id = hazards[0]["station_id"]
        seq, number = _next_number(db, station_id, now.year)
        cursor = db.execute(
            "INSERT INTO notices (station_id, venue_id, year, seq, number, kind, deadline, "
            "status, issued_at, issued_by) VALUES (?, ?, ?, ?, ?, ?, ?, 'issued', ?, ?)",
            [station_id, hazards[0]["venue_id"], now.year, seq, number, kind,
             iso(deadline) if deadline else None, iso(now), actor])
        notice_id = int(cursor.lastrowid or 0)
        for hazard in hazards:
            db.execute("INSERT INTO notice_hazards (notice_id, hazard_id) VALUES (?, ?)",
                       [notice_id, hazard["id"]])
            db.execute("UPDATE hazards SET status = 'noticed' WHERE id = ?", [hazard["id"]])
            hazard_event(db, hazard["id"], now, actor, "notice issued",
                         {"notice": notice_id, "number": number, "kind": kind,
                          "deadline": iso(deadline) if deadline else None})
    return get_notice(db, notice_id)


def get_notice(db: Database, notice_id: int) -> dict[str, Any]:
    notice = need(db, "SELECT n.*, s.name AS station_name, v.name AS venue_name, "
                      "v.address AS venue_address FROM notices n "
                      "JOIN stations s ON s.id = n.station_id JOIN venues v ON v.id = n.venue_id "
                      "WHERE n.id = ?", [notice_id], f"notice {notice_id}")
    notice["hazards"] = [row_out(dict(r), "evidence") for r in db.query(
        "SELECT h.* FROM hazards h JOIN notice_hazards nh ON nh.hazard_id = h.id "
        "WHERE nh.notice_id = ? ORDER BY h.id", [notice_id])]
    notice["proofs"] = [row_out(dict(r), "photos") for r in db.query(
        "SELECT * FROM notice_proofs WHERE notice_id = ? ORDER BY id", [notice_id])]
    return notice


def _hazard_ids(db: Database, notice_id: int) -> list[int]:
    return [int(r["hazard_id"]) for r in db.query(
        "SELECT hazard_id FROM notice_hazards WHERE notice_id = ?", [notice_id])]


def submit_proof(db: Database, notice_id: int, *, text: str, photos: list[int],
                 reinspection: bool, actor: str, now: datetime) -> dict[str, Any]:
    """The venue manager's proof of rectification (text, photo ids), and optionally the
    request for re-inspection."""
    with write_tx(db):
        notice = get_notice(db, notice_id)
        if notice["status"] == "closed":
            raise MgmtError("the notice is closed already", 409)
        for photo_id in photos:
            owner = query_one(db, "SELECT owner FROM photos WHERE id = ?", [photo_id])
            if owner is None or owner["owner"] != f"notice:{notice_id}":
                raise MgmtError(f"photo {photo_id} was not uploaded for this notice")
        db.execute("INSERT INTO notice_proofs (notice_id, text, photos, reinspection_requested, "
                   "submitted_by, submitted_at) VALUES (?, ?, ?, ?, ?, ?)",
                   [notice_id, text, dumps(photos), int(reinspection), actor, iso(now)])
        db.execute("UPDATE notices SET status = 'proof_submitted' WHERE id = ?", [notice_id])
        for hazard_id in _hazard_ids(db, notice_id):
            hazard_event(db, hazard_id, now, actor, "proof submitted",
                         {"notice": notice_id, "photos": photos, "text": text})
            if reinspection:
                hazard_event(db, hazard_id, now, actor, "re-inspection requested",
                             {"notice": notice_id})
    return get_notice(db, notice_id)


def reinspect(db: Database, notice_id: int, *, passed: bool, inspectors: list[str],
              notes: str, actor: str, now: datetime) -> dict[str, Any]:
    """The inspectors' re-inspection: passed closes the notice and its hazards (on time or
    not); failed is recorded and the notice stays open."""
    from central.management import inspections

    notice = get_notice(db, notice_id)
    if notice["status"] == "closed":
        raise MgmtError("the notice is closed already", 409)
    with write_tx(db):
        record = inspections.record(
            db, venue_id=notice["venue_id"], inspected_at=now, place=notice["venue_name"],
            inspectors=inspectors, results=[], notes=notes, actor=actor, now=now,
            kind="reinspection", notice_id=notice_id, passed=passed)
        on_time = notice["deadline"] is None or now <= parse_iso(notice["deadline"])
        for hazard_id in _hazard_ids(db, notice_id):
            hazard_event(db, hazard_id, now, actor,
                         "re-inspection passed" if passed else "re-inspection failed",
                         {"notice": notice_id, "inspection": record["id"], "notes": notes})
            if passed:
                db.execute("UPDATE hazards SET status = 'closed', closed_at = ?, closed_by = ? "
                           "WHERE id = ?", [iso(now), actor, hazard_id])
                hazard_event(db, hazard_id, now, actor, "closed", {"notice": notice_id})
        if passed:
            db.execute("UPDATE notices SET status = 'closed', closed_at = ?, closed_on_time = ? "
                       "WHERE id = ?", [iso(now), int(on_time), notice_id])
        else:
            db.execute("UPDATE notices SET status = 'issued' WHERE id = ?", [notice_id])
    return get_notice(db, notice_id)


def escalate_overdue(db: Database, now: datetime) -> list[int]:
    """Notices past their deadline and not closed are escalated to the station leader
    (once): ``escalated_at`` is set and each hazard's timeline says so."""
    escalated = []
    with write_tx(db):
        rows = list(db.query("SELECT id FROM notices WHERE kind = 'deadline' AND status != "
                             "'closed' AND escalated_at IS NULL AND deadline < ?", [iso(now)]))
        for row in rows:
            notice_id = int(row["id"])
            db.execute("UPDATE notices SET escalated_at = ? WHERE id = ?", [iso(now), notice_id])
            for hazard_id in _hazard_ids(db, notice_id):
                hazard_event(db, hazard_id, now, SYSTEM, "escalated to the station leader",
                             {"notice": notice_id})
            escalated.append(notice_id)
    if escalated:
        logger.info("%s notices past their deadline escalated to the leader", len(escalated))
    return escalated


def propose_penalty(db: Database, *, venue_id: str, notice_id: int | None, proposal: str,
                    actor: str, now: datetime) -> dict[str, Any]:
    with write_tx(db):
        station = need(db, "SELECT station_id FROM venues WHERE id = ?", [venue_id],
                       f"venue {venue_id}")["station_id"]
        if notice_id is not None:
            notice = get_notice(db, notice_id)
            if notice["venue_id"] != venue_id:
                raise MgmtError("the notice is for another venue")
        cursor = db.execute(
            "INSERT INTO penalties (station_id, venue_id, notice_id, status, proposal, "
            "proposed_by, proposed_at) VALUES (?, ?, ?, 'proposed', ?, ?, ?)",
            [station, venue_id, notice_id, proposal, actor, iso(now)])
        penalty_id = int(cursor.lastrowid or 0)
        if notice_id is not None:
            for hazard_id in _hazard_ids(db, notice_id):
                hazard_event(db, hazard_id, now, actor, "penalty proposed",
                             {"penalty": penalty_id, "proposal": proposal})
    return get_penalty(db, penalty_id)


def get_penalty(db: Database, penalty_id: int) -> dict[str, Any]:
    return need(db, "SELECT * FROM penalties WHERE id = ?", [penalty_id],
                f"penalty case {penalty_id}")


def _penalty_event(db: Database, penalty: dict[str, Any], now: datetime, actor: str,
                   action: str, detail: dict[str, Any]) -> None:
    if penalty["notice_id"] is not None:
        for hazard_id in _hazard_ids(db, int(penalty["notice_id"])):
            hazard_event(db, hazard_id, now, actor, action,
                         {"penalty": penalty["id"], **detail})


def approve_penalty(db: Database, penalty_id: int, *, approve: bool, actor: str,
                    now: datetime) -> dict[str, Any]:
    """The station leader approves (or rejects) a proposed case."""
    with write_tx(db):
        penalty = get_penalty(db, penalty_id)
        if penalty["status"] != "proposed":
            raise MgmtError(f"the case is {penalty['status']}, not awaiting approval", 409)
        status = "approved" if approve else "rejected"
        db.execute("UPDATE penalties SET status = ?, approved_by = ?, approved_at = ? "
                   "WHERE id = ?", [status, actor, iso(now), penalty_id])
        _penalty_event(db, penalty, now, actor, f"penalty {status}", {})
    return get_penalty(db, penalty_id)


def decide_penalty(db: Database, penalty_id: int, *, decision: str, amount_yuan: int | None,
                   actor: str, now: datetime) -> dict[str, Any]:
    """The decision (warning, or fine with its amount): only after the leader approved."""
    if decision == "fine" and not amount_yuan:
        raise MgmtError("a fine needs its amount in yuan")
    with write_tx(db):
        penalty = get_penalty(db, penalty_id)
        if penalty["status"] != "approved":
            raise MgmtError("the station leader has not approved this case: a decision "
                            "needs the leader's approval first", 409)
        db.execute("UPDATE penalties SET status = 'decided', decision = ?, amount_yuan = ?, "
                   "decided_by = ?, decided_at = ? WHERE id = ?",
                   [decision, amount_yuan if decision == "fine" else None, actor, iso(now),
                    penalty_id])
        _penalty_event(db, penalty, now, actor, "penalty decided",
                       {"decision": decision, "amount_yuan": amount_yuan})
    return get_penalty(db, penalty_id)


def record_investigation(db: Database, *, venue_id: str, incident_id: int | None,
                         summary: str, actor: str, at: datetime) -> dict[str, Any]:
    """A fire investigated (火灾调查)."""
    with write_tx(db):
        station = need(db, "SELECT station_id FROM venues WHERE id = ?", [venue_id],
                       f"venue {venue_id}")["station_id"]
        cursor = db.execute(
            "INSERT INTO fire_investigations (station_id, venue_id, incident_id, "
            "investigated_at, summary, created_by) VALUES (?, ?, ?, ?, ?, ?)",
            [station, venue_id, incident_id, iso(at), summary, actor])
    return need(db, "SELECT * FROM fire_investigations WHERE id = ?",
                [int(cursor.lastrowid or 0)], "investigation")


def leader_overview(db: Database, stations: list[str] | None) -> dict[str, Any]:
    """Per officer: inspections recorded, open hazards found; per station: overdue
    (escalated) notices and penalty cases awaiting approval."""
    where, args = "", []
    if stations is not None:
        where = f" AND station_id IN ({','.join('?' * len(stations))})"
        args = list(stations)
    officers: dict[str, dict[str, int]] = {}
    for r in db.query("SELECT created_by AS u, count(*) AS n FROM inspections WHERE "
                      "kind = 'routine'" + where + " GROUP BY created_by", args):
        officers.setdefault(r["u"], {"inspections": 0, "open_hazards": 0})["inspections"] = r["n"]
    for r in db.query("SELECT created_by AS u, count(*) AS n FROM hazards WHERE "
                      "status != 'closed'" + where + " GROUP BY created_by", args):
        officers.setdefault(r["u"], {"inspections": 0, "open_hazards": 0})["open_hazards"] = r["n"]
    overdue = [dict(r) for r in db.query(
        "SELECT id, number, venue_id, deadline, escalated_at FROM notices WHERE "
        "escalated_at IS NOT NULL AND status != 'closed'" + where + " ORDER BY deadline", args)]
    pending = [dict(r) for r in db.query(
        "SELECT id, venue_id, notice_id, proposal, proposed_by, proposed_at FROM penalties "
        "WHERE status = 'proposed'" + where + " ORDER BY proposed_at", args)]
    return {"officers": [{"username": u, **v} for u, v in sorted(officers.items())],
            "overdue_notices": overdue, "pending_approvals": pending}
