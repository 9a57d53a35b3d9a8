"""The audit trail's retention (prune, run daily on the writer) and its CSV export.

Prune keeps the chain verifiable: it deletes the oldest rows (a prefix of the
chain, by id) and, in the same transaction, appends an ``audit.prune`` row that
records how many rows went and the hash of the last one. That hash is the new
anchor :func:`central.audit.verify` expects as the first row's ``prev_hash``.
Rows that do not verify are never pruned (they are evidence).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlite_utils import Database

from central.audit import (
    COLUMNS,
    PRUNE_ACTION,
    Entry,
    append_after,
    iter_rows,
    verify,
)
from central.audit_config import DEFAULT_TIMEZONE, AuditConfig, zone_info
from central.db import Writer, iso, parse_iso, query_one, write_tx

logger = logging.getLogger(__name__)

#: The BOM makes Excel (Chinese Windows included) read the file as UTF-8.
BOM = "\ufeff"


class AuditBroken(RuntimeError):
    """The chain does not verify: it is not pruned. ``str()`` names the row."""


def prune(db: Database, older_than: datetime, *, now: datetime | None = None) -> int:
    """Delete the rows written before ``older_than``; returns how many were deleted.

    Only a prefix of the chain is deleted: the rows before the first one written at
    or after ``older_than``. Then an ``audit.prune`` row is appended recording the
    count and the last deleted row's id and hash. Raises :class:`AuditBroken`
    (deleting nothing) when the rows to delete, or the first row kept, do not verify:
    only that part is checked, so the daily prune stays short on the writer.
    """
    with write_tx(db):
        cutoff = iso(older_than)
        keep = query_one(db, "SELECT min(id) AS id FROM audit_log WHERE at >= ?", [cutoff])
        keep_id = keep["id"] if keep and keep["id"] is not None else None
        # what is deleted, and the first row kept (its link to them), must verify
        checked = verify(db, up_to_id=keep_id)
        if not checked.ok:
            raise AuditBroken(checked.problem)
        bound, params = ("", []) if keep_id is None else (" WHERE id < ?", [keep_id])
        last = query_one(db, f"SELECT id, hash FROM audit_log{bound} ORDER BY id DESC LIMIT 1",
                         params)
        if last is None:
            return 0
        deleted = db.execute(f"DELETE FROM audit_log{bound}", params).rowcount
        tip = query_one(db, "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        prev = str(last["hash"]) if tip is None else str(tip["hash"])
        append_after(db, Entry(username="system", role="system", source="central",
                          action=PRUNE_ACTION, object="audit_log", result="allowed",
                          detail={"rows": deleted, "older_than": cutoff,
                                  "last_pruned_id": int(last["id"]),
                                  "last_pruned_hash": str(last["hash"])}), prev, now)
    logger.info("audit: %s rows written before %s pruned", deleted, cutoff)
    return int(deleted)


async def retention_loop(writer: Writer, config: AuditConfig,
                         clock: Callable[[], datetime]) -> None:
    """Run :func:`prune` now and every ``prune_interval_s``, on the writer (off the loop)."""
    while True:
        now = clock()
        try:
            await writer.run(prune, now - timedelta(days=config.retention_days), now=now)
        except AuditBroken as exc:
            logger.error("audit retention skipped: the chain is broken (%s); run "
                         "'alarmlink central audit verify' and keep the database as "
                         "evidence", exc)
        except sqlite3.Error:
            logger.exception("audit retention failed; retrying in %s s",
                             config.prune_interval_s)
        await asyncio.sleep(config.prune_interval_s)


def export(db: Database, start: datetime, end: datetime, *,
           timezone: str = DEFAULT_TIMEZONE) -> str:
    """The rows written in ``[start, end)`` as CSV text, starting with a UTF-8 BOM.

    Every column of ``audit_log``; ``at`` is ISO-8601 UTC and ``at_local`` the same
    moment in ``timezone`` (the stations' zone), inserted right after it.
    """
    zone = zone_info(timezone)
    out = io.StringIO()
    out.write(BOM)
    header = list(COLUMNS)
    header.insert(header.index("at") + 1, "at_local")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in iter_rows(db, where="at >= :start AND at < :end",
                         params={"start": iso(start), "end": iso(end)}):
        local = parse_iso(row["at"]).astimezone(zone).isoformat(timespec="seconds")
        values = [row[c] for c in COLUMNS]
        values.insert(COLUMNS.index("at") + 1, local)
        writer.writerow(values)
    return out.getvalue()
