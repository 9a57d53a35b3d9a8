"""Remote commands to devices: stored first, then published QoS 1, NEVER retained.

A command (:class:`alarmlink.wire.Command`) carries a ``cmd_id`` and an
``expires_at``; the agent answers ``ok=false`` / ``reason: expired`` to one
that arrives late (e.g. queued by the broker while the device was offline).
Never retaining matters: a stale retained command replayed after a restart has
set off real sirens in other projects. The device's answer
(:class:`~alarmlink.wire.CommandResult` on ``cmd/result``) is stored by ingest
in ``command_results``; :func:`list_commands` joins the two.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from alarmlink.wire import Command, CommandName, DetailValue, new_id
from central.db import iso, parse_iso, query_one, write_tx

logger = logging.getLogger(__name__)


def build_command(name: CommandName, args: Mapping[str, DetailValue], actor: str,
                  ttl_s: float, now: datetime) -> Command:
    """A wire command with a fresh id, expiring ``ttl_s`` after ``now``.

    Raises pydantic's ``ValidationError`` for arguments the contract refuses.
    """
    return Command(cmd_id=new_id(), name=name, by=actor, args=dict(args),
                   expires_at=now + timedelta(seconds=ttl_s))


def store_command(db: Database, device_id: str, command: Command, now: datetime) -> None:
    with write_tx(db):
        db.execute("INSERT INTO commands (cmd_id, device_id, name, args, actor, created_at, "
                   "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [command.cmd_id, device_id, command.name.value, json.dumps(command.args),
                    command.by, iso(now), iso(command.expires_at)])
    logger.info("command %s %s for %s by %s stored (expires %s)", command.name.value,
                command.cmd_id, device_id, command.by, iso(command.expires_at))


_SELECT = (
    "SELECT c.cmd_id, c.device_id, c.name, c.args, c.actor, c.created_at, c.expires_at, "
    "r.ok, r.ts AS result_ts, r.received_at AS result_received_at, r.detail "
    "FROM commands c LEFT JOIN command_results r "
    "ON r.cmd_id = c.cmd_id AND r.device_id = c.device_id ")


def list_commands(db: Database, device_id: str, now: datetime,
                  limit: int = 50) -> list[dict[str, Any]]:
    """The device's commands, newest first, each with its result (or None) and a status:
    ``pending``, ``ok``, ``failed``, ``refused_expired`` or ``unanswered`` (expired
    without an answer)."""
    rows = db.query(_SELECT + "WHERE c.device_id = ? ORDER BY c.created_at DESC, c.cmd_id DESC "
                    "LIMIT ?", [device_id, limit])
    return [_view(row, now) for row in rows]


def get_command(db: Database, cmd_id: str, now: datetime) -> dict[str, Any] | None:
    """One command as :func:`list_commands` shows it, or None."""
    row = query_one(db, _SELECT + "WHERE c.cmd_id = ?", [cmd_id])
    return None if row is None else _view(row, now)


def _view(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    result = None
    if row["ok"] is not None:
        result = {"ok": bool(row["ok"]), "ts": row["result_ts"],
                  "received_at": row["result_received_at"],
                  "detail": json.loads(row["detail"])}
    return {"cmd_id": row["cmd_id"], "device_id": row["device_id"], "name": row["name"],
            "args": json.loads(row["args"]), "actor": row["actor"],
            "created_at": row["created_at"], "expires_at": row["expires_at"],
            "status": _status(row, result, now), "result": result}


def _status(row: Mapping[str, Any], result: dict[str, Any] | None, now: datetime) -> str:
    if result is None:
        return "unanswered" if parse_iso(row["expires_at"]) < now else "pending"
    if result["ok"]:
        return "ok"
    return "refused_expired" if result["detail"].get("reason") == "expired" else "failed"
