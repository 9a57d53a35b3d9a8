"""Reads off the event loop: a few threads, each with its own query-only connection.

``await readers.run(fn, ...)`` runs ``fn(db, ...)`` on a reader thread. In WAL
mode a reader never waits for a writer, so the API and the consoles can read
while the writer is stalled on SQLite's write lock; and a slow read (a long
incident, a big device board) keeps a reader thread busy, not the event loop.
The connections are ``query_only``: a write through one of them is an error.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from sqlite_utils import Database

from central.db.backend import open_database

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

READER_THREADS = 2


class Readers:
    """A small pool of reader threads over one database (file or PostgreSQL URL)."""

    def __init__(self, path: Path | str, *, threads: int = READER_THREADS,
                 name: str = "central-reader") -> None:
        #: A SQLite file, or a PostgreSQL URL (each reader thread: its own read-only
        #: connection, opened on first use and again after it broke).
        self._path: Path | str = path if isinstance(path, str) and "://" in path else Path(path)
        self._local = threading.local()
        self._connections: list[Database] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

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

    def _job(self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args,
             **kwargs: P.kwargs) -> T:
        db: Database | None = getattr(self._local, "db", None)
        if db is not None and getattr(db, "broken", False):  # PostgreSQL: reconnect
            with self._lock:
                self._connections.remove(db)
            db = None
        if db is None:
            db = open_database(self._path, query_only=True)
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return fn(db, *args, **kwargs)
