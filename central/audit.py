"""The audit trail: an append-only, hash-chained log of who did what, allowed or denied.

Each row's ``hash`` is SHA-256 over the previous row's hash and this row's fields
(canonical JSON), so changing, inserting or deleting a row in the middle breaks
the chain from that row on; :func:`verify` names the first row that does not fit.
Rows are only ever appended on the writer thread (or by a CLI tool's own connection).

The chain's start (its *anchor*) is :data:`GENESIS` until the first retention
prune (:func:`central.audit_retention.prune`). A prune deletes the oldest rows and,
in the same transaction, appends an ``audit.prune`` row whose detail records the
hash of the last row it deleted (``last_pruned_hash``): the first remaining row's
``prev_hash`` is exactly that hash, so :func:`verify` accepts it. Rows deleted by
hand leave a first row whose ``prev_hash`` matches no recorded anchor, and
verification fails naming it.

What the chain does not prove: someone with write access to the database file can
rewrite every hash from a point on. Keep the output of ``audit verify`` (its last
hash) somewhere else, e.g. in the station's paper log, to anchor it outside.

Reading: :func:`list_entries` (API and CLI). Writing from the command line:
:func:`record_cli` (the actor is ``cli:<os user>``).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from alarmlink.wire import utcnow
from central.db import iso, query_one, write_tx

logger = logging.getLogger(__name__)

Result = Literal["allowed", "denied"]
GENESIS = "0" * 64
_FIELDS = ("at", "username", "role", "source", "action", "object", "result", "detail")
#: Every column of ``audit_log``, in order (exports, listings).
COLUMNS = ("id", *_FIELDS, "prev_hash", "hash")
PRUNE_ACTION = "audit.prune"
LIST_LIMIT_MAX = 1000


@dataclass(frozen=True)
class Entry:
    """One audited act. ``object`` names what was acted on, e.g. ``incident:12``."""

    username: str
    role: str
    source: str
    action: str
    object: str
    result: Result
    detail: dict[str, Any] | None = None


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The chain hash of ``row`` (its :data:`_FIELDS`) after ``prev_hash``."""
    body = json.dumps([prev_hash, *(row[f] for f in _FIELDS)], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(db: Database, entry: Entry, *, at: datetime | None = None) -> int:
    """Append ``entry`` to the chain; returns its row id. Call on the writer thread."""
    with write_tx(db):
        last = query_one(db, "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        prev = GENESIS if last is None else str(last["hash"])
        return append_after(db, entry, prev, at)


def append_after(db: Database, entry: Entry, prev: str, at: datetime | None) -> int:
    """Insert ``entry`` chained after ``prev`` inside the caller's transaction (prune)."""
    row = {"at": iso(at or utcnow()), "username": entry.username, "role": entry.role,
           "source": entry.source, "action": entry.action, "object": entry.object,
           "result": entry.result,
           "detail": json.dumps(entry.detail or {}, ensure_ascii=False, sort_keys=True)}
    cur = db.execute(
        "INSERT INTO audit_log (at, username, role, source, action, object, result, "
        "detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*(row[f] for f in _FIELDS), prev, row_hash(prev, row)])
    if entry.result == "denied":
        logger.warning("denied: %s (%s) %s on %s from %s", entry.username, entry.role,
                       entry.action, entry.object, entry.source)
    return int(cur.lastrowid or 0)


# ------------------------------------------------------------------ the command line


def cli_actor() -> str:
    """``cli:<os user>``: who ran a command-line tool."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in the environment nor in passwd
        return "cli:unknown"


def record_cli(db: Database, action: str, obj: str, detail: dict[str, Any] | None = None,
               *, result: Result = "allowed") -> int:
    """Audit one act done from the command line (registry, provisioning, broker-config)."""
    return append(db, Entry(username=cli_actor(), role="cli", source="cli", action=action,
                            object=obj, result=result, detail=detail))


# ------------------------------------------------------------------ reading


def list_entries(db: Database, *, object: str | None = None,  # noqa: A002 - the column
                 username: str | None = None, since: datetime | None = None,
                 limit: int = 200) -> list[dict[str, Any]]:
    """Audit rows, newest first, filtered by object, user name and time (``at >= since``).

    ``detail`` is returned decoded (a dict).
    """
    limit = max(1, min(limit, LIST_LIMIT_MAX))
    rows = db.query(
        f"SELECT {', '.join(COLUMNS)} FROM audit_log WHERE (:object IS NULL OR object = :object)"
        " AND (:username IS NULL OR username = :username COLLATE NOCASE)"
        " AND (:since IS NULL OR at >= :since) ORDER BY id DESC LIMIT :limit",
        {"object": object, "username": username,
         "since": None if since is None else iso(since), "limit": limit})
    return [{**row, "detail": _decode(row["detail"])} for row in rows]


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:  # a hand-edited row: show it as it is, verify() will flag it
        return text


def iter_rows(db: Database, *, where: str = "", params: dict[str, Any] | None = None
              ) -> Iterator[dict[str, Any]]:
    """Every audit row (raw columns) in id order, optionally filtered by a WHERE clause."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM audit_log"
    if where:
        sql += f" WHERE {where}"
    yield from db.query(sql + " ORDER BY id", params or {})


# ------------------------------------------------------------------ verification


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify`. ``ok`` False names the first row that does not fit."""

    ok: bool
    rows: int
    first_id: int | None
    last_id: int | None
    last_hash: str | None
    #: the id of the first broken row (None when the chain is intact)
    broken_id: int | None = None
    #: one line: what is wrong with that row
    problem: str = ""

    def message(self) -> str:
        if self.ok:
            if self.rows == 0:
                return "audit chain intact: 0 rows (empty log)"
            return (f"audit chain intact: {self.rows} rows ({self.first_id}, {self.last_id}), "
                    f"last hash {self.last_hash}")
        return f"audit chain BROKEN at {self.problem}"


def chain_anchor(db: Database) -> tuple[str, int | None]:
    """The hash the first row must follow, and the id of the prune row that recorded it.

    ``(GENESIS, None)`` when nothing was ever pruned.
    """
    return anchor_of(query_one(db, ANCHOR_SQL, [PRUNE_ACTION]))


#: The latest prune row (``?`` is :data:`PRUNE_ACTION`); :func:`anchor_of` reads it.
ANCHOR_SQL = "SELECT id, detail FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT 1"


def anchor_of(row: dict[str, Any] | None) -> tuple[str, int | None]:
    """The chain's anchor from the latest ``audit.prune`` row (None: never pruned), from
    either backend (PostgreSQL: :mod:`central.db.pg_export`)."""
    if row is None:
        return GENESIS, None
    detail = _decode(row["detail"])
    anchor = detail.get("last_pruned_hash") if isinstance(detail, dict) else None
    return (anchor if isinstance(anchor, str) else ""), int(row["id"])


def verify(db: Database, *, up_to_id: int | None = None) -> VerifyResult:
    """Walk the chain in id order and report the FIRST row that does not fit.

    Each row's ``prev_hash`` must be the previous row's stored hash (for the first
    row: the anchor, see :func:`chain_anchor`), and its stored hash must be the one
    recomputed from its fields. An empty log verifies. ``up_to_id`` stops the walk
    after that row (prune checks only what it is about to delete).
    """
    anchor, prune_id = chain_anchor(db)
    where, params = ("", {}) if up_to_id is None else ("id <= :last", {"last": up_to_id})
    return verify_rows(iter_rows(db, where=where, params=params), anchor, prune_id)


def verify_rows(rows: Iterable[dict[str, Any]], anchor: str, prune_id: int | None
                ) -> VerifyResult:
    """:func:`verify`'s walk over ``rows`` (every :data:`COLUMNS`, in id order) after
    ``anchor`` (see :func:`anchor_of`): the same check whichever database they come from."""
    count = 0
    first_id: int | None = None
    prev: dict[str, Any] | None = None
    for row in rows:
        count += 1
        rid = int(row["id"])
        if prev is None:
            first_id = rid
            if row["prev_hash"] != anchor:
                start = ("GENESIS (nothing was ever pruned)" if prune_id is None else
                         f"the hash the latest audit.prune (row {prune_id}) recorded")
                return _broken(count, first_id, rid, f"row {rid}: prev_hash does not match "
                               f"the chain's start, {start} (rows before it were removed "
                               "without audit prune, or it was inserted)")
        elif row["prev_hash"] != prev["hash"]:
            return _broken(count, first_id, rid, f"row {rid}: prev_hash does not match row "
                           f"{prev['id']}'s hash (a row was removed or inserted before it)")
        if row_hash(row["prev_hash"], row) != row["hash"]:
            return _broken(count, first_id, rid, f"row {rid}: its fields do not match its "
                           "hash (changed after it was written)")
        prev = row
    last = prev
    return VerifyResult(ok=True, rows=count, first_id=first_id,
                        last_id=None if last is None else int(last["id"]),
                        last_hash=None if last is None else str(last["hash"]))


def _broken(count: int, first_id: int | None, rid: int, problem: str) -> VerifyResult:
    logger.error("audit chain broken: %s", problem)
    return VerifyResult(ok=False, rows=count, first_id=first_id, last_id=None, last_hash=None,
                        broken_id=rid, problem=problem)
