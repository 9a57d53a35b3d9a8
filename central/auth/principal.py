"""The acting user and their scope: the part of the organisation tree they may see.

The tree is city → county → station → (police office) → (village) → venue. A user
belongs to one node (``root`` for the whole tree); their scope is the set of stations
under it and, for a police-office, village or venue user, the venues of that node (a
venue manager's node is their one venue).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from sqlite_utils import Database

from central.auth.permissions import Action, allowed

logger = logging.getLogger(__name__)

NodeKind = Literal["root", "city", "county", "station", "office", "village", "venue"]


@dataclass(frozen=True)
class Principal:
    """A logged-in user, as every route sees them. Built from the session only."""

    user_id: int
    username: str
    role: str
    node_kind: NodeKind
    node_id: str
    #: station ids the user may see; None = every station (a root user)
    stations: frozenset[str] | None
    #: for a police-office user, the venue ids of the office; None = the stations' venues
    venues: frozenset[str] | None = None
    #: the client's address as central saw it
    source: str = ""

    def may(self, action: Action) -> bool:
        return allowed(self.role, action)

    def sees_station(self, station_id: str) -> bool:
        return self.stations is None or station_id in self.stations

    def sees_venue(self, venue_id: str, station_id: str) -> bool:
        if not self.sees_station(station_id):
            return False
        return self.venues is None or venue_id in self.venues

    @property
    def station_filter(self) -> list[str] | None:
        """Sorted station ids for a SQL ``IN`` list, or None for no filter."""
        return None if self.stations is None else sorted(self.stations)


def resolve_scope(db: Database, node_kind: str, node_id: str
                  ) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """``(stations, venues)`` under a node of the tree (see :class:`Principal`)."""
    if node_kind == "root":
        return None, None
    if node_kind == "city":
        rows = db.query("SELECT s.id FROM stations s JOIN counties c ON c.id = s.county_id "
                        "WHERE c.city_id = ?", [node_id])
    elif node_kind == "county":
        rows = db.query("SELECT id FROM stations WHERE county_id = ?", [node_id])
    elif node_kind == "station":
        rows = db.query("SELECT id FROM stations WHERE id = ?", [node_id])
    elif node_kind == "office":
        office = list(db.query("SELECT station_id FROM police_offices WHERE id = ?",
                               [node_id]))
        venues = frozenset(r["id"] for r in db.query(
            "SELECT id FROM venues WHERE office_id = ?", [node_id]))
        return frozenset(r["station_id"] for r in office), venues
    elif node_kind == "village":
        village = list(db.query("SELECT station_id FROM villages WHERE id = ?", [node_id]))
        venues = frozenset(r["id"] for r in db.query(
            "SELECT id FROM venues WHERE village_id = ?", [node_id]))
        return frozenset(r["station_id"] for r in village), venues
    elif node_kind == "venue":
        venue = list(db.query("SELECT station_id FROM venues WHERE id = ?", [node_id]))
        return (frozenset(r["station_id"] for r in venue),
                frozenset([node_id]) if venue else frozenset())
    else:
        raise ValueError(f"unknown node kind {node_kind!r}")
    return frozenset(r["id"] for r in rows), None
