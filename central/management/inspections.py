"""Inspection plans, overdue venues, inspection records with signatures, and photos."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any, Final

from sqlite_utils import Database

from central.db import iso, parse_iso, query_one, write_tx
from central.management import checklists
from central.management.common import MgmtError, dumps, hazard_event, need, row_out

logger = logging.getLogger(__name__)

PHOTO_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp"})
PHOTO_MAX_BYTES: Final = 4 * 1024 * 1024


def set_plan(db: Database, station_id: str, venue_id: str, every_days: int,
             inspectors: list[str], actor: str, now: datetime) -> dict[str, Any]:
    with write_tx(db):
        db.execute("INSERT INTO inspection_plans (station_id, venue_id, every_days, inspectors, "
                   "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (station_id, venue_id) DO UPDATE SET every_days = "
                   "excluded.every_days, inspectors = excluded.inspectors",
                   [station_id, venue_id, every_days, dumps(inspectors), iso(now), actor])
    return {"station_id": station_id, "venue_id": venue_id, "every_days": every_days,
            "inspectors": inspectors}


def plans(db: Database, stations: list[str] | None, now: datetime) -> list[dict[str, Any]]:
    """Every plan with its last inspection, next due date and whether it is overdue."""
    sql = ("SELECT p.*, v.name AS venue_name, v.kind AS venue_kind, (SELECT max(inspected_at) "
           "FROM inspections i WHERE i.venue_id = p.venue_id AND i.kind = 'routine') AS last_at "
           "FROM inspection_plans p JOIN venues v ON v.id = p.venue_id")
    args: list[Any] = []
    if stations is not None:
        sql += f" WHERE p.station_id IN ({','.join('?' * len(stations))})"
        args = list(stations)
    out = []
    for row in db.query(sql + " ORDER BY p.station_id, p.venue_id", args):
        plan = row_out(dict(row), "inspectors")
        assert plan is not None
        base = parse_iso(plan["last_at"]) if plan["last_at"] else parse_iso(plan["created_at"])
        due = base + timedelta(days=int(plan["every_days"]))
        plan["due_at"] = iso(due)
        plan["overdue"] = due < now
        out.append(plan)
    return out


def record(db: Database, *, venue_id: str, inspected_at: datetime, place: str,
           inspectors: list[str], results: list[dict[str, Any]], notes: str, actor: str,
           now: datetime, kind: str = "routine", notice_id: int | None = None,
           passed: bool | None = None) -> dict[str, Any]:
    """Store an inspection; each failed item opens a hazard (source ``inspection``).

    ``inspectors``: at least two user names; the recording user confirms (signs) at once,
    the others with :func:`confirm`.
    """
    names = sorted(set(inspectors))
    if len(names) < 2:
        raise MgmtError("an inspection needs at least two inspectors: name the second one")
    if actor not in names:
        raise MgmtError("the user recording the inspection must be one of its inspectors")
    with write_tx(db):
        venue = need(db, "SELECT id, kind, station_id FROM venues WHERE id = ?", [venue_id],
                     f"venue {venue_id}")
        unknown = [n for n in names if query_one(
            db, "SELECT id FROM users WHERE username = ?", [n]) is None]
        if unknown:
            raise MgmtError(f"no user {unknown[0]!r}: inspectors must be users of central")
        checklist_id = None
        codes: dict[str, Any] = {}
        if kind == "routine":
            checklist = checklists.current(db, venue["station_id"], venue["kind"])
            checklist_id = checklist["id"]
            codes = {item["code"]: item for item in checklist["items"]}
            bad = [r["code"] for r in results if r["code"] not in codes]
            if bad:
                raise MgmtError(f"item {bad[0]!r} is not on checklist version "
                                f"{checklist['version']}: use its item codes")
        cursor = db.execute(
            "INSERT INTO inspections (station_id, venue_id, checklist_id, kind, inspected_at, "
            "place, inspectors, results, notes, notice_id, passed, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [venue["station_id"], venue_id, checklist_id, kind, iso(inspected_at), place,
             dumps(names), dumps(results), notes, notice_id,
             None if passed is None else int(passed), actor, iso(now)])
        inspection_id = int(cursor.lastrowid or 0)
        db.execute("INSERT INTO inspection_signatures (inspection_id, username, confirmed_at) "
                   "VALUES (?, ?, ?)", [inspection_id, actor, iso(now)])
        hazards = []
        for result in results:
            if result.get("result") != "fail":
                continue
            cursor = db.execute(
                "INSERT INTO hazards (station_id, venue_id, source, inspection_id, item_code, "
                "severity, description, location, status, found_at, created_by) "
                "VALUES (?, ?, 'inspection', ?, ?, ?, ?, ?, 'open', ?, ?)",
                [venue["station_id"], venue_id, inspection_id, result["code"],
                 result.get("severity", "general"),
                 result.get("note") or codes.get(result["code"], {}).get("text", ""),
                 result.get("location", place), iso(inspected_at), actor])
            hazard_id = int(cursor.lastrowid or 0)
            hazard_event(db, hazard_id, now, actor, "found",
                         {"inspection": inspection_id, "item": result["code"]})
            hazards.append(hazard_id)
    out = get(db, inspection_id)
    out["hazards"] = hazards
    return out


def get(db: Database, inspection_id: int) -> dict[str, Any]:
    row = row_out(need(db, "SELECT * FROM inspections WHERE id = ?", [inspection_id],
                       f"inspection {inspection_id}"), "inspectors", "results")
    assert row is not None
    row["signatures"] = [dict(r) for r in db.query(
        "SELECT username, confirmed_at FROM inspection_signatures WHERE inspection_id = ? "
        "ORDER BY confirmed_at", [inspection_id])]
    row["photos"] = [r["id"] for r in db.query(
        "SELECT id FROM photos WHERE owner = ? ORDER BY id", [f"inspection:{inspection_id}"])]
    return row


def confirm(db: Database, inspection_id: int, username: str, now: datetime) -> dict[str, Any]:
    """An inspector named on the record confirms it (their signature)."""
    with write_tx(db):
        row = get(db, inspection_id)
        if username not in row["inspectors"]:
            raise MgmtError("only an inspector named on the record can sign it", 403)
        db.execute("INSERT OR IGNORE INTO inspection_signatures (inspection_id, username, "
                   "confirmed_at) VALUES (?, ?, ?)", [inspection_id, username, iso(now)])
    return get(db, inspection_id)


def add_photo(db: Database, owner: str, station_id: str, venue_id: str, content_type: str,
              data: bytes, actor: str, now: datetime) -> dict[str, Any]:
    if content_type not in PHOTO_TYPES:
        raise MgmtError(f"photo type {content_type!r} refused: send JPEG, PNG or WebP", 415)
    if not data or len(data) > PHOTO_MAX_BYTES:
        raise MgmtError("a photo must be 1 byte to 4 MiB: take it at a lower resolution", 413)
    digest = hashlib.sha256(data).hexdigest()
    with write_tx(db):
        cursor = db.execute(
            "INSERT INTO photos (owner, station_id, venue_id, content_type, sha256, data, "
            "uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [owner, station_id, venue_id, content_type, digest, data, actor, iso(now)])
        photo_id = int(cursor.lastrowid or 0)
        if owner.startswith("hazard:"):
            hazard_event(db, int(owner.split(":", 1)[1]), now, actor, "photo",
                         {"photo": photo_id})
    return {"id": photo_id, "owner": owner, "sha256": digest, "bytes": len(data)}


def photo(db: Database, photo_id: int) -> dict[str, Any]:
    return need(db, "SELECT * FROM photos WHERE id = ?", [photo_id], f"photo {photo_id}")


def owner_place(db: Database, owner: str) -> tuple[str, str]:
    """``(station_id, venue_id)`` of a photo's owner: ``inspection:N``, ``hazard:N`` or
    ``notice:N``."""
    kind, _, raw = owner.partition(":")
    tables = {"inspection": "inspections", "hazard": "hazards", "notice": "notices"}
    if kind not in tables or not raw.isdigit():
        raise MgmtError("owner must be inspection:ID, hazard:ID or notice:ID")
    row = need(db, f"SELECT station_id, venue_id FROM {tables[kind]} WHERE id = ?",
               [int(raw)], owner)
    return str(row["station_id"]), str(row["venue_id"])


def hazard_photos(db: Database, hazard_id: int, inspection_id: int | None
                  ) -> list[dict[str, Any]]:
    """The photos of a hazard: its own (evidence added later) and those of the inspection
    that found it, oldest first, without the image data."""
    owners = [f"hazard:{hazard_id}"] + ([f"inspection:{inspection_id}"] if inspection_id else [])
    return [dict(r) for r in db.query(
        "SELECT id, owner, content_type, uploaded_by, uploaded_at FROM photos WHERE owner IN "
        f"({','.join('?' * len(owners))}) ORDER BY id", owners)]
