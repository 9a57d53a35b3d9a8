"""Central's ingest on PostgreSQL: a connection that looks like the SQLite one ingest uses.

Ingest (:mod:`central.ingest` and what it calls: incidents, dead letters, commissioning
hits, device state) is written once, against the small surface of a sqlite-utils
``Database`` it uses: ``execute``, ``query``, ``conn.execute``/``executemany``,
``conn.in_transaction``, a cursor's ``fetchone``/``fetchall``/``description``/
``rowcount``/``lastrowid``, and :func:`central.db.write_tx` (``BEGIN IMMEDIATE``,
savepoints, ``COMMIT``/``ROLLBACK``). :class:`PgDatabase` gives the same surface on a
psycopg 3 connection in autocommit mode (transactions are the explicit statements
``write_tx`` sends), translating each statement once (cached):

=====================================  ==============================================
SQLite                                 PostgreSQL
=====================================  ==============================================
``?`` placeholders                     ``%s`` (:func:`~central.db.pg_dialect.qmark_to_pyformat`)
``BEGIN IMMEDIATE``                    ``BEGIN``
``a IS ?`` / ``a IS NOT ?``            ``IS [NOT] DISTINCT FROM %s``
``? IS NULL``, ``:name IS NULL``       ``%s::text IS NULL`` (a bare NULL has no type)
``DO UPDATE SET n = n + 1``            ``n = <table>.n + 1`` (PostgreSQL calls a bare
                                       ``n`` ambiguous beside ``excluded.n``)
``PRAGMA synchronous=NORMAL|FULL``     ``SET synchronous_commit TO off|on`` (the
                                       heartbeat-only batches of ingest)
``INSERT OR IGNORE ...``               ``INSERT ... ON CONFLICT DO NOTHING``
``x IN ()`` / ``x NOT IN ()``          ``x = ANY('{}')`` / ``x <> ALL('{}')`` (an empty
                                       list: false / true, as in SQLite; PostgreSQL
                                       refuses ``IN ()``)
``cursor.lastrowid``                   ``lastval()`` (read only when asked for)
Python ``bool`` parameters             ``0``/``1`` (the columns are ``BIGINT``)
a NUL in a text parameter              U+FFFD (PostgreSQL's text cannot hold NUL: a
                                       request or message carrying one is stored and
                                       looked up instead of failing)
=====================================  ==============================================

psycopg's errors are raised as subclasses of :mod:`sqlite3`'s DB-API exceptions
(:class:`PgIntegrityError`, :class:`PgOperationalError`, :class:`PgDatabaseError`), so
the ``except sqlite3.Error`` of the shared code (a batch that cannot commit is retried
message by message; a dead letter that cannot be stored is logged) holds on both.

Several ingest workers write one PostgreSQL database at once (``central ingest-worker``).
What the single SQLite writer got from running alone, they get from
:func:`lock_keys`: a transaction-scoped advisory lock per venue, taken in sorted order at
the start of a batch, so the deduplication on ``event_id`` and the venue's open incident
are decided by one worker at a time (a device always belongs to one venue).

psycopg is imported only when a :class:`PgDatabase` is opened.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from central.db.pg_dialect import named_to_pyformat, qmark_to_pyformat

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

#: What a NUL in a text parameter becomes on PostgreSQL (the replacement character).
NUL_STANDIN = "\ufffd"
#: The first key of ingest's two-key advisory locks ("vn": venue).
VENUE_LOCK_SPACE = 0x766E


class PgIntegrityError(sqlite3.IntegrityError):
    """A PostgreSQL constraint violation (unique, foreign key, check)."""


class PgOperationalError(sqlite3.OperationalError):
    """A PostgreSQL operational failure (connection lost, deadlock, serialization)."""


class PgDatabaseError(sqlite3.DatabaseError):
    """Any other PostgreSQL error."""


# a quoted string ('' inside is an escaped quote) or anything else up to the next quote
_PARTS = re.compile(r"('(?:[^']|'')*')|([^']+)")
_IS_PARAM = re.compile(r"\bIS\s+(NOT\s+)?\?", re.IGNORECASE)
_PARAM_IS_NULL = re.compile(r"\?(\s+IS\s+(?:NOT\s+)?NULL\b)", re.IGNORECASE)
_NAMED_IS_NULL = re.compile(r"(?<![:\w])(:[A-Za-z_]\w*)(\s+IS\s+(?:NOT\s+)?NULL\b)",
                            re.IGNORECASE)
_INSERT_TABLE = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_DO_UPDATE = re.compile(r"\bDO\s+UPDATE\s+SET\b", re.IGNORECASE)
_SELF_REF = re.compile(r"\b(\w+)(\s*=\s*)\1\b(?!\s*\()")
_INSERT_OR_IGNORE = re.compile(r"^(\s*INSERT)\s+OR\s+IGNORE\b", re.IGNORECASE)
_EMPTY_NOT_IN = re.compile(r"\bNOT\s+IN\s*\(\s*\)", re.IGNORECASE)
_EMPTY_IN = re.compile(r"\bIN\s*\(\s*\)", re.IGNORECASE)
_PRAGMA_SYNC = re.compile(r"^\s*PRAGMA\s+synchronous\s*=\s*(\w+)\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def translate_dml(sql: str, with_params: bool | str) -> str:
    """The PostgreSQL form of one statement of ingest (see the module's table)."""
    if sql.count("'") % 2:
        raise PgDatabaseError(f"unbalanced quote in: {sql[:80]!r}")
    stripped = sql.strip()
    if stripped.upper() in ("BEGIN IMMEDIATE", "BEGIN"):
        return "BEGIN"
    sync = _PRAGMA_SYNC.match(stripped)
    if sync:
        return ("SET synchronous_commit TO off" if sync.group(1).upper() in ("NORMAL", "OFF")
                else "SET synchronous_commit TO on")
    if stripped.upper().startswith("PRAGMA"):
        raise PgDatabaseError(f"SQLite-only statement on PostgreSQL: {stripped[:80]!r}")
    ignore = _INSERT_OR_IGNORE.match(sql)
    if ignore:  # the whole statement: INSERT ... VALUES (...) [no RETURNING]
        sql = ignore.group(1) + sql[ignore.end():].rstrip().rstrip(";") + \
            " ON CONFLICT DO NOTHING"
    table = _INSERT_TABLE.match(sql)
    update = _DO_UPDATE.search(sql)
    out: list[str] = []
    after_update = False
    for quoted, plain in _PARTS.findall(sql):  # text inside quotes is never changed
        if quoted:
            out.append(quoted)
            continue
        plain = _IS_PARAM.sub(lambda m: "IS DISTINCT FROM ?" if m.group(1)
                              else "IS NOT DISTINCT FROM ?", plain)
        plain = _EMPTY_NOT_IN.sub("<> ALL('{}')", plain)
        plain = _EMPTY_IN.sub("= ANY('{}')", plain)
        plain = _PARAM_IS_NULL.sub(r"?::text\1", plain)
        plain = _NAMED_IS_NULL.sub(r"\1::text\2", plain)
        if table and update:
            if not after_update and (found := _DO_UPDATE.search(plain)):
                head, plain = plain[:found.end()], plain[found.end():]
                out.append(head)
                after_update = True
            if after_update:
                plain = _SELF_REF.sub(rf"\1\2{table.group(1)}.\1", plain)
        out.append(plain)
    sql = "".join(out)
    if with_params == "named":
        return named_to_pyformat(sql)
    return qmark_to_pyformat(sql) if with_params else sql


def _params(params: Sequence[Any] | None) -> list[Any] | None:
    if not params:
        return None
    return [int(p) if isinstance(p, bool) else bytes(p) if isinstance(p, memoryview)
            else p.replace("\x00", NUL_STANDIN) if isinstance(p, str) and "\x00" in p
            else p for p in params]


def _mapped(exc: Exception) -> sqlite3.Error:
    import psycopg

    cls: type[sqlite3.Error]
    if isinstance(exc, psycopg.IntegrityError):
        cls = PgIntegrityError
    elif isinstance(exc, psycopg.OperationalError):
        cls = PgOperationalError
    else:
        cls = PgDatabaseError
    text = str(exc).strip().splitlines()
    error = cls(text[0] if text else type(exc).__name__)
    error.__cause__ = exc
    return error


class PgCursor:
    """A psycopg cursor as ingest reads a sqlite3 one."""

    def __init__(self, conn: PgConnection, cursor: psycopg.Cursor[Any]) -> None:
        self._conn = conn
        self._cursor = cursor

    @property
    def description(self) -> list[tuple[str, ...]] | None:
        columns = self._cursor.description
        return None if columns is None else [(c.name,) for c in columns]

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        row = self._conn.execute("SELECT lastval()").fetchone()
        return None if row is None else int(row[0])

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._cursor.description is None:
            return None
        return self._cursor.fetchone()

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._cursor.description is None:
            return []
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())

    def close(self) -> None:
        self._cursor.close()


class PgConnection:
    """The ``sqlite3.Connection`` surface ingest and :func:`~central.db.write_tx` use."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str,
                params: Sequence[Any] | Mapping[str, Any] | None = None) -> PgCursor:
        import psycopg

        values: list[Any] | dict[str, Any] | None
        if isinstance(params, Mapping):  # SQLite's :name placeholders
            values = dict(zip(params, _params(list(params.values())) or [], strict=True))
            statement = translate_dml(sql, "named")
        else:
            values = _params(params)
            statement = translate_dml(sql, values is not None)
        try:
            if values is None:
                cursor = self.raw.execute(statement.encode())  # bytes: no % parsing
            else:
                cursor = self.raw.execute(statement, values)
        except psycopg.Error as exc:
            raise _mapped(exc) from exc
        return PgCursor(self, cursor)

    def commit(self) -> None:
        """End an open transaction (``sqlite3.Connection.commit``); no-op outside one."""
        if self.in_transaction:
            self.execute("COMMIT")

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        import psycopg

        batch = [_params(r) or [] for r in rows]
        try:
            with self.raw.cursor() as cursor:
                cursor.executemany(translate_dml(sql, True), batch)
        except psycopg.Error as exc:
            raise _mapped(exc) from exc

    def close(self) -> None:
        self.raw.close()


class PgDatabase:
    """The part of a sqlite-utils ``Database`` central's ingest uses, on PostgreSQL."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.conn = PgConnection(raw)

    @classmethod
    def connect(cls, url: str, *, migrate: bool = True) -> PgDatabase:
        """Connect to ``url`` (errors: :class:`~central.db.pg_migrate.PgError`, one line)
        and, unless ``migrate`` is False, apply pending migrations first."""
        from central.db import pg_migrate

        raw = pg_migrate.connect(url)
        if migrate:
            pg_migrate.apply(raw)
        return cls(raw)

    @property
    def broken(self) -> bool:
        """The connection to PostgreSQL is lost (every statement will fail)."""
        return bool(self.conn.raw.broken or self.conn.raw.closed)

    def execute(self, sql: str,
                params: Sequence[Any] | Mapping[str, Any] | None = None) -> PgCursor:
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
              ) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description or []]
        for row in cursor.fetchall():
            yield dict(zip(names, row, strict=True))

    def close(self) -> None:
        self.conn.close()


def lock_keys(db: object, venues: Iterable[str]) -> None:
    """Inside a write transaction on PostgreSQL: hold each venue's advisory lock until the
    commit, taken in sorted order (no deadlock between workers). No-op on SQLite, whose
    one writer runs alone."""
    if not isinstance(db, PgDatabase):
        return
    keys = sorted(set(venues))
    if keys:
        db.execute("SELECT count(pg_advisory_xact_lock(?, hashtext(k))) "
                   "FROM unnest(?::text[]) WITH ORDINALITY AS u(k, i)",
                   [VENUE_LOCK_SPACE, keys])
