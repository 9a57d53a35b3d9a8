"""The organisation below a station: villages with fire zones, liaison points, volunteer
fire teams with their members, and drills and patrols (venues' and teams')."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from central.db import iso, query_one, write_tx
from central.management.common import MgmtError, need

logger = logging.getLogger(__name__)


def add_village(db: Database, village_id: str, name: str, station_id: str,
                office_id: str | None = None, zones: list[str] | None = None) -> dict[str, Any]:
    with write_tx(db):
        need(db, "SELECT id FROM stations WHERE id = ?", [station_id], f"station {station_id}")
        if query_one(db, "SELECT id FROM villages WHERE id = ?", [village_id]) is not None:
            raise MgmtError(f"village {village_id} exists already: choose another id", 409)
        db.execute("INSERT INTO villages (id, name, station_id, office_id) VALUES (?, ?, ?, ?)",
                   [village_id, name, station_id, office_id])
        for zone in zones or []:
            db.execute("INSERT INTO fire_zones (village_id, name) VALUES (?, ?)",
                       [village_id, zone])
    return get_village(db, village_id)


def set_venue_village(db: Database, venue_id: str, village_id: str) -> None:
    with write_tx(db):
        db.execute("UPDATE venues SET village_id = ? WHERE id = ?", [village_id, venue_id])


def get_village(db: Database, village_id: str) -> dict[str, Any]:
    village = need(db, "SELECT * FROM villages WHERE id = ?", [village_id],
                   f"village {village_id}")
    village["zones"] = [dict(r) for r in db.query(
        "SELECT id, name, area FROM fire_zones WHERE village_id = ? ORDER BY id", [village_id])]
    teams = [dict(r) for r in db.query(
        "SELECT id, name FROM volunteer_teams WHERE village_id = ? ORDER BY id", [village_id])]
    for team in teams:
        team["members"] = [dict(r) for r in db.query(
            "SELECT id, name, phone, role FROM team_members WHERE team_id = ? ORDER BY id",
            [team["id"]])]
        team["drills"] = [dict(r) for r in db.query(
            "SELECT id, kind, held_at, participants, notes, created_by FROM drills "
            "WHERE team_id = ? ORDER BY held_at DESC, id DESC", [team["id"]])]
    village["teams"] = teams
    village["liaison_points"] = [dict(r) for r in db.query(
        "SELECT id, name, contact, phone FROM liaison_points WHERE village_id = ? ORDER BY id",
        [village_id])]
    village["assistants"] = [dict(r) for r in db.query(
        "SELECT username, display_name, mobile FROM users WHERE role = 'village_assistant' "
        "AND node_kind = 'village' AND node_id = ? ORDER BY username", [village_id])]
    village["venues"] = [dict(r) for r in db.query(
        "SELECT id, name FROM venues WHERE village_id = ? ORDER BY id", [village_id])]
    return village


def list_villages(db: Database, stations: list[str] | None) -> list[dict[str, Any]]:
    sql = "SELECT * FROM villages"
    args: list[Any] = []
    if stations is not None:
        sql += f" WHERE station_id IN ({','.join('?' * len(stations))})"
        args = list(stations)
    return [dict(r) for r in db.query(sql + " ORDER BY id", args)]


def add_liaison_point(db: Database, station_id: str, village_id: str | None, name: str,
                      contact: str, phone: str) -> int:
    with write_tx(db):
        cursor = db.execute("INSERT INTO liaison_points (station_id, village_id, name, contact, "
                            "phone) VALUES (?, ?, ?, ?, ?)",
                            [station_id, village_id, name, contact, phone])
    return int(cursor.lastrowid or 0)


def add_team(db: Database, village_id: str, name: str,
             members: list[dict[str, str]]) -> dict[str, Any]:
    with write_tx(db):
        need(db, "SELECT id FROM villages WHERE id = ?", [village_id], f"village {village_id}")
        cursor = db.execute("INSERT INTO volunteer_teams (village_id, name) VALUES (?, ?)",
                            [village_id, name])
        team_id = int(cursor.lastrowid or 0)
        for member in members:
            db.execute("INSERT INTO team_members (team_id, name, phone, role) "
                       "VALUES (?, ?, ?, ?)", [team_id, member["name"],
                                               member.get("phone", ""), member.get("role", "")])
    return {"id": team_id, "village_id": village_id, "name": name, "members": members}


def add_member(db: Database, team_id: int, name: str, phone: str, role: str) -> int:
    with write_tx(db):
        need(db, "SELECT id FROM volunteer_teams WHERE id = ?", [team_id], f"team {team_id}")
        cursor = db.execute("INSERT INTO team_members (team_id, name, phone, role) "
                            "VALUES (?, ?, ?, ?)", [team_id, name, phone, role])
    return int(cursor.lastrowid or 0)


def update_member(db: Database, team_id: int, member_id: int, name: str, phone: str,
                  role: str) -> None:
    with write_tx(db):
        need(db, "SELECT id FROM team_members WHERE id = ? AND team_id = ?",
             [member_id, team_id], f"member {member_id} of team {team_id}")
        db.execute("UPDATE team_members SET name = ?, phone = ?, role = ? WHERE id = ?",
                   [name, phone, role, member_id])


def remove_member(db: Database, team_id: int, member_id: int) -> None:
    with write_tx(db):
        need(db, "SELECT id FROM team_members WHERE id = ? AND team_id = ?",
             [member_id, team_id], f"member {member_id} of team {team_id}")
        db.execute("DELETE FROM team_members WHERE id = ?", [member_id])


def team_village(db: Database, team_id: int) -> dict[str, Any]:
    return need(db, "SELECT t.id, t.village_id, v.station_id FROM volunteer_teams t "
                    "JOIN villages v ON v.id = t.village_id WHERE t.id = ?", [team_id],
                f"team {team_id}")


def add_drill(db: Database, *, station_id: str, kind: str, held_at: datetime,
              actor: str, team_id: int | None = None, venue_id: str | None = None,
              participants: int = 0, notes: str = "") -> int:
    if (team_id is None) == (venue_id is None):
        raise MgmtError("a drill or patrol belongs to a team or to a venue: give one of them")
    with write_tx(db):
        cursor = db.execute(
            "INSERT INTO drills (station_id, team_id, venue_id, kind, held_at, participants, "
            "notes, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [station_id, team_id, venue_id, kind, iso(held_at), participants, notes, actor])
    return int(cursor.lastrowid or 0)
