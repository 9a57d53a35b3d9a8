"""The month of one station, created through the API as the right users: 226 units
inspected (112 with a failed item: 112 hazards), 109 rectification notices, 12 penalty
cases and 1 fire investigated; plus a hazard of another station and one of the month
before, which the station's figures for the period must not count.

``call(user, method, path, json)`` sends one request as ``user`` and returns the JSON
of a 200 answer (the in-process TestClient or a real central). Notices and penalty cases
are dated by central's clock; inspections, hazards and the investigation by ``start``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

M = "/api/management"
#: user -> (role, node): the station's leader, two inspectors, one of another station
USERS = {"leader": ("station_leader", "station:chengxiang"),
         "insp-a": ("inspector", "station:chengxiang"),
         "insp-b": ("inspector", "station:chengxiang"),
         "insp-d": ("inspector", "station:dading")}
FIGURES = {"units_inspected": 226, "hazards_found": 112, "notices_issued": 109,
           "penalty_cases": 12, "fires_investigated": 1}

Call = Callable[[str, str, str, dict[str, Any]], Any]


@dataclass
class Scenario:
    hazards: list[int] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    penalties: list[dict[str, Any]] = field(default_factory=list)


def run(call: Call, start: datetime) -> Scenario:
    out = Scenario()
    venues = ["school-01", "hotel-01"]
    for i in range(FIGURES["units_inspected"]):
        failed = i < FIGURES["hazards_found"]
        inspection = call("insp-a", "POST", f"{M}/inspections", {
            "venue": venues[i % 2], "place": "现场", "inspectors": ["insp-a", "insp-b"],
            "inspected_at": (start + timedelta(minutes=i)).isoformat(),
            "results": [{"code": "exit-clear", "result": "fail" if failed else "pass",
                         "note": f"隐患{i}"}]})
        out.hazards += inspection["hazards"]
    out.notices = [call("insp-a", "POST", f"{M}/notices", {"hazards": [h], "kind": "immediate"})
                   for h in out.hazards[:FIGURES["notices_issued"]]]
    out.penalties = [call("insp-b", "POST", f"{M}/penalties", {
        "venue": n["venue_id"], "notice": n["id"], "proposal": "拒不改正"})
        for n in out.notices[:FIGURES["penalty_cases"]]]
    call("insp-a", "POST", f"{M}/investigations", {
        "venue": "hotel-01", "summary": "厨房油锅起火", "at": start.isoformat()})
    # outside the period or the station: not counted
    call("insp-d", "POST", f"{M}/hazards", {
        "venue": "village-01", "severity": "major", "description": "其他派出所"})
    call("insp-a", "POST", f"{M}/hazards", {
        "venue": "school-01", "severity": "general", "description": "上月",
        "found_at": (start - timedelta(days=40)).isoformat()})
    return out
