"""Reads off the event loop: a few threads, each with a query-only connection.

``await readers.run(fn, ...)`` runs ``fn(db, ...)`` on a reader thread. In WAL
mode a reader never waits for a writer, so the API and the consoles can read
while the writer is stalled on SQLite's write lock; and a slow read (a long
incident, a big device board) keeps a reader thread busy, not the event loop.
The connections are ``query_only``: a write through one of them is an error.

On SQLite each thread keeps a connection of its own. On PostgreSQL the threads share
a :class:`psycopg_pool.ConnectionPool` of as many read-only sessions: the pool checks a
session before it hands it out and opens a new one in the background for each that
broke, so the first reads after a database restart or a standby's promotion find a live
session instead of failing one by one. A read that gets no session within
:data:`POOL_TIMEOUT_S` fails as a database error (one line: the database is
unreachable), as a failed read does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from sqlite_utils import Database

from central.db.backend import is_postgresql, open_database

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

READER_THREADS = 2
#: How long a read waits for a PostgreSQL session before it fails.
POOL_TIMEOUT_S = 5.0


class Readers:
    """A small pool of reader threads over one database (file or PostgreSQL URL)."""

    def __init__(self, path: Path | str, *, threads: int = READER_THREADS,
                 name: str = "central-reader") -> None:
        self._path: Path | str = path if is_postgresql(path) else Path(path)
        self._local = threading.local()
        self._connections: list[Database] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        #: On PostgreSQL: the read-only sessions the threads share.
        self._pool: ConnectionPool[Any] | None = None
        if is_postgresql(path):
            self._pool = _open_pool(str(path), threads, name)

    async def run(self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args,
                  **kwargs: P.kwargs) -> T:
        """Run ``fn(db, ...)`` on a reader thread and return its result."""
        future = self._executor.submit(self._job, fn, *args, **kwargs)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Wait for running reads, then close every reader connection."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()
        if self._pool is not None:
            self._pool.close()

    def _job(self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args,
             **kwargs: P.kwargs) -> T:
        if self._pool is not None:
            return _pooled(self._pool, fn, *args, **kwargs)
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = open_database(self._path, query_only=True)
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return fn(db, *args, **kwargs)


def _read_only(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SET default_transaction_read_only = on")


def _open_pool(url: str, size: int, name: str) -> ConnectionPool[Any]:
    from psycopg_pool import ConnectionPool, PoolTimeout

    from central.db.pg_migrate import PgError, redact

    pool: ConnectionPool[Any] = ConnectionPool(
        url, min_size=size, max_size=size, open=False, name=name, configure=_read_only,
        check=ConnectionPool.check_connection,
        kwargs={"autocommit": True, "connect_timeout": 5, "application_name": name})
    try:
        pool.open(wait=True, timeout=POOL_TIMEOUT_S * 2)
    except PoolTimeout as exc:  # psycopg's own cause is in the pool's log
        pool.close()
        raise PgError(f"cannot open read sessions on PostgreSQL at {redact(url)}: {exc} "
                      "(check the URL, that the server runs and that the user may log "
                      "in)") from None
    return pool


def _pooled(pool: ConnectionPool[Any], fn: Callable[Concatenate[Database, P], T], /,
            *args: P.args, **kwargs: P.kwargs) -> T:
    from psycopg_pool import PoolTimeout

    from central.db.pg_store import PgDatabase, PgOperationalError

    try:
        with pool.connection(timeout=POOL_TIMEOUT_S) as raw:
            return fn(cast(Database, PgDatabase(raw)), *args, **kwargs)
    except PoolTimeout:
        raise PgOperationalError(f"no PostgreSQL session for a read within "
                                 f"{POOL_TIMEOUT_S:g} s: the database is unreachable") from None
