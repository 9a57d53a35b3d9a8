"""Checklists as versioned data per venue category, each item citing the rule it checks.

The starting lists (station ``NULL``) ship with central; a station edits its own copy,
which is stored as the next version (earlier versions stay, inspections keep the id of the
version they used).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final

from sqlite_utils import Database

from central.db import iso, query_one, write_tx
from central.management.common import MgmtError, dumps, row_out

logger = logging.getLogger(__name__)

_LAW = "《中华人民共和国消防法》"
_COMMON: Final[list[dict[str, str]]] = [
    {"code": "exit-clear", "text": "安全出口、疏散通道畅通，未被占用、堵塞、封闭",
     "rule": f"{_LAW}第二十八条"},
    {"code": "extinguishers", "text": "灭火器配置齐全、在有效期内",
     "rule": "GB 50140《建筑灭火器配置设计规范》"},
    {"code": "emergency-light", "text": "应急照明、疏散指示标志完好有效",
     "rule": "GB 51309《消防应急照明和疏散指示系统技术标准》"},
    {"code": "alarm-device", "text": "一键报警装置、火灾探测器在线且工作正常",
     "rule": f"{_LAW}第十六条"},
]

STARTING_LISTS: Final[dict[str, list[dict[str, str]]]] = {
    "school": [*_COMMON,
               {"code": "dorm-power", "text": "学生宿舍无违规使用大功率电器",
                "rule": "GB 35181-2017 第2.9条"},
               {"code": "drill-term", "text": "每学期组织一次疏散演练",
                "rule": "《中小学幼儿园安全管理办法》第四十条"}],
    "hotel": [*_COMMON,
              {"code": "room-guide", "text": "客房内张贴疏散示意图",
               "rule": "GB 25201《建筑消防设施的维护管理》"},
              {"code": "fire-doors", "text": "常闭式防火门处于关闭状态",
               "rule": "GB 35181-2017 第2.4条"},
              {"code": "control-room", "text": "消防控制室24小时双人值班",
               "rule": "GB 25506《消防控制室通用技术要求》"}],
    "village": [*_COMMON,
                {"code": "wiring", "text": "电气线路穿管保护，无私拉乱接",
                 "rule": "GB 35181-2017 第2.9条"},
                {"code": "living-apart",
                 "text": "生产、储存、经营场所未与居住场所设置在同一建筑物内",
                 "rule": f"{_LAW}第十九条"}],
}


def seed(db: Database, now: datetime, actor: str = "system") -> None:
    """Store the starting lists as version 1 of each category (once)."""
    with write_tx(db):
        for category, items in STARTING_LISTS.items():
            if query_one(db, "SELECT id FROM checklists WHERE station_id IS NULL AND "
                             "category = ?", [category]) is None:
                db.execute("INSERT INTO checklists (station_id, category, version, items, "
                           "created_at, created_by) VALUES (NULL, ?, 1, ?, ?, ?)",
                           [category, dumps(items), iso(now), actor])


def current(db: Database, station_id: str, category: str) -> dict[str, Any]:
    """The station's newest copy of the category's list, or the starting list."""
    row = query_one(db, "SELECT * FROM checklists WHERE station_id = ? AND category = ? "
                        "ORDER BY version DESC LIMIT 1", [station_id, category])
    if row is None:
        row = query_one(db, "SELECT * FROM checklists WHERE station_id IS NULL AND "
                            "category = ? ORDER BY version DESC LIMIT 1", [category])
    if row is None:
        raise MgmtError(f"no checklist for venue category {category!r}: one of "
                        f"{', '.join(STARTING_LISTS)}", 404)
    out = row_out(row, "items")
    assert out is not None
    return out


def save(db: Database, station_id: str, category: str, items: list[dict[str, str]],
         actor: str, now: datetime) -> dict[str, Any]:
    """Store the station's edited list as its next version."""
    codes = [item["code"] for item in items]
    if len(set(codes)) != len(codes):
        raise MgmtError("checklist item codes must be unique: rename the repeated code")
    with write_tx(db):
        last = query_one(db, "SELECT max(version) AS v FROM checklists WHERE "
                             "(station_id = ? OR station_id IS NULL) AND category = ?",
                         [station_id, category])
        version = int((last or {}).get("v") or 0) + 1
        db.execute("INSERT INTO checklists (station_id, category, version, items, created_at, "
                   "created_by) VALUES (?, ?, ?, ?, ?, ?)",
                   [station_id, category, version, dumps(items), iso(now), actor])
    return current(db, station_id, category)


def versions(db: Database, station_id: str, category: str) -> list[dict[str, Any]]:
    """Every version the station has used for the category, newest first: its own copies
    and the starting list, each with the number of inspections recorded against it."""
    rows = db.query(
        "SELECT c.*, (SELECT count(*) FROM inspections i WHERE i.checklist_id = c.id AND "
        "i.station_id = ?) AS inspections FROM checklists c WHERE (c.station_id = ? OR "
        "c.station_id IS NULL) AND c.category = ? ORDER BY c.version DESC",
        [station_id, station_id, category])
    out = [row_out(dict(r), "items") or {} for r in rows]
    if not out:
        raise MgmtError(f"no checklist for venue category {category!r}: one of "
                        f"{', '.join(STARTING_LISTS)}", 404)
    return out
