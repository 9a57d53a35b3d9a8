"""``alarmlink central registry show``: the organisation tree as text.

::

    county duan  Du'an County Public Security Bureau
      station chengxiang  Chengxiang Police Station
        venue school-01  Chengxiang Central Primary School (school)
          device school-01  zones gate-button, dormitory-smoke
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def render_tree(reg: dict[str, list[dict[str, Any]]]) -> str:
    """The registry (``list_registry``'s dict) as an indented tree; empty parts say so."""
    lines: list[str] = []
    if not reg["counties"]:
        return ("registry is empty: add a county first (`alarmlink central registry "
                "add-county --db DB --id ID --name NAME`) or load a file (`registry load`)")
    for city in reg["cities"]:
        lines.append(f"city {city['id']}  {city['name']}")
    for county in reg["counties"]:
        indent = "  " if county.get("city_id") else ""
        lines.append(f"{indent}county {county['id']}  {county['name']}")
        for station in (s for s in reg["stations"] if s["county_id"] == county["id"]):
            lines.append(f"{indent}  station {station['id']}  {station['name']}")
            for office in (o for o in reg["offices"] if o["station_id"] == station["id"]):
                lines.append(f"{indent}    office {office['id']}  {office['name']}")
            for venue in (v for v in reg["venues"] if v["station_id"] == station["id"]):
                where = f", office {venue['office_id']}" if venue.get("office_id") else ""
                lines.append(f"{indent}    venue {venue['id']}  {venue['name']} "
                             f"({venue['kind']}{where})")
                for device in (d for d in reg["devices"] if d["venue_id"] == venue["id"]):
                    lines.append(f"{indent}      device {device['id']}  zones "
                                 f"{', '.join(device['zones']) or '(none)'}")
    return "\n".join(lines)
