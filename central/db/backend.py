"""Which database central runs on: a SQLite file (the default) or PostgreSQL (a URL).

``[database_url]`` in central's config, or a ``--db`` that starts with ``postgresql://``,
selects PostgreSQL; everything else is a SQLite path. :func:`open_database` opens either
and returns an object with the surface central's code uses (a sqlite-utils ``Database``,
or :class:`central.db.pg_store.PgDatabase` which imitates it), so the code above the
connection is written once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

from sqlite_utils import Database

from central.db.connection import open_db

logger = logging.getLogger(__name__)

URL_PREFIXES = ("postgresql://", "postgres://")


def is_postgresql(target: str | Path | None) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL."""
    return target is not None and str(target).startswith(URL_PREFIXES)


def db_target(text: str) -> Path | str:
    """A ``--db`` argument: a PostgreSQL URL as given, anything else a SQLite file's path
    (``type=Path`` would turn ``postgresql://`` into ``postgresql:/``)."""
    return text if is_postgresql(text) else Path(text)


def open_database(target: str | Path, *, query_only: bool = False) -> Database:
    """A SQLite file or a PostgreSQL URL, opened (migrated unless ``query_only``).

    PostgreSQL errors at connect are :class:`central.db.pg_migrate.PgError` (one line).
    """
    if not is_postgresql(target):
        return open_db(Path(target), query_only=query_only)
    from central.db.pg_store import PgDatabase

    db = PgDatabase.connect(str(target), migrate=not query_only)
    if query_only:
        db.execute("SET default_transaction_read_only = on")
    return cast(Database, db)


def backend_name(db: object) -> str:
    """``postgresql`` or ``sqlite``: what ``/api/health`` reports."""
    from central.db.pg_store import PgDatabase

    return "postgresql" if isinstance(db, PgDatabase) else "sqlite"
