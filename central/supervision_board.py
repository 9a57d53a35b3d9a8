"""The device board's supervision fields (``GET /api/devices``), read on a reader thread."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlite_utils import Database

from central.db import iso, parse_iso
from central.supervision_config import SupervisionConfig
from central.supervision_rules import trouble_due


class Supervisor(Protocol):
    """What the board reads of :class:`central.supervision.Supervisor`."""

    config: SupervisionConfig
    clock_skew_threshold_s: float
    checked_at: datetime | None

    @property
    def listening_since(self) -> datetime | None: ...

    @property
    def doubt_from(self) -> datetime | None: ...

    def clock(self) -> datetime: ...


def supervision_board(sup: Supervisor, db: Database,
                      device_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Supervision fields of every device, or of ``device_ids`` (one page), by device id."""
    now = sup.clock()
    out: dict[str, dict[str, Any]] = {}
    sql = ("SELECT d.id, d.device_class, s.availability, s.last_seen, s.clock_offset_s, "
           "coalesce(p.state, 'up') AS state, p.reason, p.down_since, p.incident_id, "
           "coalesce(p.dropouts, 0) AS dropouts, p.last_dropout_s FROM devices d "
           "LEFT JOIN device_state s ON s.device_id = d.id "
           "LEFT JOIN supervision p ON p.device_id = d.id")
    params: list[str] = []
    if device_ids is not None:  # one page of the board: only its devices
        sql += f" WHERE d.id IN ({', '.join('?' for _ in device_ids)})"
        params = list(device_ids)
    rows = db.query(sql, params)
    for row in rows:
        device_id, availability, reason = row["id"], row["availability"], row["reason"]
        state, down_since, last_seen = row["state"], row["down_since"], row["last_seen"]
        offset = row["clock_offset_s"]
        name, cls, known = sup.config.class_of(row["device_class"])
        if availability is None:
            board_state = "never"
        elif state == "up":
            board_state = availability
        else:
            board_state = "stopped" if reason == "stopped" else "offline"
        due = None
        if state == "down" and down_since:
            when = trouble_due(reason, parse_iso(down_since), cls, sup.listening_since,
                               sup.doubt_from)
            due = None if when is None else iso(when)
        out[device_id] = {
            "device_class": name, "class_known": known, "bound_s": cls.bound_s,
            "heartbeat_s": cls.heartbeat_s, "state": board_state,
            "down_reason": reason if state != "up" else None,
            "down_since": down_since if state != "up" else None,
            "trouble_due_at": due, "trouble_incident_id": row["incident_id"],
            "dropouts": row["dropouts"], "last_dropout_s": row["last_dropout_s"],
            "silent_for_s": None if not last_seen else round(
                (now - parse_iso(last_seen)).total_seconds(), 1),
            "clock_skewed": offset is not None and abs(offset) > sup.clock_skew_threshold_s,
            "checked_at": iso(sup.checked_at) if sup.checked_at else None,
        }
    return out
