"""Central's migrations on PostgreSQL: the same migration functions as SQLite, translated.

Every migration registered on :data:`central.db.schema.migrations` is run here too, in
the same order and under the same name, each in one PostgreSQL transaction together with
its row in ``alarmlink_migrations`` (the counterpart of sqlite-utils'
``_sqlite_migrations``). The migration function gets a :class:`PgMigrationDb` instead of
a sqlite-utils ``Database``: its :meth:`~PgMigrationDb.execute` translates each statement
with :func:`central.db.pg_dialect.translate`. A new migration is therefore written once,
in SQLite's dialect; only a migration that cannot be translated (SQLite's table rebuilds,
``transactional=False``) needs its PostgreSQL form in :data:`PG_FORMS`, and the runner
refuses to go on without one.

Two processes running ``central migrate`` at once are serialised by an advisory lock.

psycopg 3 is an optional dependency (``pip install 'alarmlink[postgresql]'``): this
module imports it only when called.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from central.db import connection as _connection
from central.db.pg_dialect import POSTLUDE, PRELUDE, qmark_to_pyformat, translate
from central.db.schema import migrations
from central.db.schema_management import _NODE_KINDS, _ROLES

if TYPE_CHECKING:
    import psycopg

_ = _connection  # imports every migration module, in order, before we read the list

logger = logging.getLogger(__name__)

MIGRATIONS_TABLE = "alarmlink_migrations"
#: pg_advisory_lock key while migrations run (any constant; "alarmlink" in ASCII)
MIGRATION_LOCK = 0x616C61726D6C696E


class PgError(Exception):
    """A PostgreSQL problem a user can reach: one line, the cause and the fix."""


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection to ``url`` (``postgresql://user@host:port/db``)."""
    try:
        import psycopg
    except ImportError:
        raise PgError("psycopg is not installed: pip install 'alarmlink[postgresql]'") from None
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        cause = _first_line(exc)
        raise PgError(f"cannot connect to PostgreSQL at {redact(url)}: {cause} (check the "
                      "URL, that the server runs and that the user may log in)") from None
    except psycopg.ProgrammingError as exc:
        raise PgError(f"bad PostgreSQL URL {redact(url)}: {exc} (expected "
                      "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE)") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def redact(url: str) -> str:
    """``url`` without its password (in the user part or a ``password=`` parameter)."""
    url = re.sub(r"([?&]password=)[^&]*", r"\1***", url)
    head, sep, tail = url.partition("://")
    if not sep or "@" not in tail:
        return url
    creds, _, rest = tail.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{head}://{user}:***@{rest}" if ":" in creds else url


class _PgTable:
    def __init__(self, db: PgMigrationDb, name: str) -> None:
        self.db, self.name = db, name

    @property
    def count(self) -> int:
        row = self.db.conn.execute(f'SELECT count(*) FROM "{self.name}"').fetchone()
        return int(row[0]) if row else 0


class PgMigrationDb:
    """What a migration function needs of a sqlite-utils ``Database``, on PostgreSQL."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        statement = translate(sql)
        if params:
            return self.conn.execute(qmark_to_pyformat(statement), list(params))
        return self.conn.execute(statement.encode())  # bytes: no placeholder parsing

    def __getitem__(self, name: str) -> _PgTable:
        return _PgTable(self, name)


def _m015_management_roles(db: PgMigrationDb) -> None:
    # SQLite rebuilds the table to change a CHECK; PostgreSQL replaces the constraint.
    for column, allowed in (("role", _ROLES), ("node_kind", _NODE_KINDS)):
        db.conn.execute(f"ALTER TABLE users DROP CONSTRAINT users_{column}_check".encode())
        db.conn.execute(f"ALTER TABLE users ADD CONSTRAINT users_{column}_check "
                        f"CHECK ({column} IN ({allowed}))".encode())


#: migration name -> its PostgreSQL form, for migrations that cannot be translated
PG_FORMS: dict[str, Callable[[PgMigrationDb], None]] = {
    "m015_management_roles": _m015_management_roles,
}


def migration_names() -> list[str]:
    """Every registered migration's name, in order (the same list SQLite applies)."""
    return [m.name for m in migrations._migrations]


def applied(conn: psycopg.Connection[Any]) -> list[str]:
    """Names of the migrations applied to this PostgreSQL database, in order."""
    exists = conn.execute("SELECT to_regclass(%s)", [MIGRATIONS_TABLE]).fetchone()
    if not exists or exists[0] is None:
        return []
    rows = conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = %s "
                        "ORDER BY applied_at, name", [migrations.name]).fetchall()
    return [str(r[0]) for r in rows]


def pending(conn: psycopg.Connection[Any]) -> list[str]:
    done = set(applied(conn))
    return [name for name in migration_names() if name not in done]


def apply(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply every pending migration; returns the names applied now (in order).

    Each migration and its record commit together; a failing one rolls back alone and
    stops the run (the ones before it stay applied), and the error names it.
    """
    import psycopg

    conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        for statement in PRELUDE:
            conn.execute(statement.encode())
        done = set(applied(conn))
        now_applied: list[str] = []
        for migration in migrations._migrations:
            if migration.name in done:
                continue
            form = PG_FORMS.get(migration.name)
            if form is None and not migration.transactional:
                raise PgError(f"migration {migration.name} is SQLite-only (it runs outside a "
                              "transaction) and has no PostgreSQL form: add one to PG_FORMS "
                              "in central/db/pg_migrate.py")
            db = PgMigrationDb(conn)
            try:
                with conn.transaction():
                    if form is not None:
                        form(db)
                    else:
                        migration.fn(db)  # type: ignore[arg-type]
                    conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (migration_set, name, "
                                 "applied_at) VALUES (%s, %s, %s)",
                                 [migrations.name, migration.name,
                                  datetime.now(UTC).isoformat(timespec="microseconds")])
            except psycopg.Error as exc:
                raise PgError(f"migration {migration.name} failed on PostgreSQL and was rolled "
                              f"back: {_first_line(exc)} (the migrations before it are "
                              "applied; fix the cause and run migrate again)") from exc
            logger.info("applied migration %s", migration.name)
            now_applied.append(migration.name)
        for statement in POSTLUDE:
            conn.execute(statement.encode())
        return now_applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
