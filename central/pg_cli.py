"""``alarmlink central migrate`` and ``alarmlink central export --to postgresql://...``.

``migrate`` applies the pending migrations to central's database: a SQLite file (``--db
PATH`` or the config's ``db``) or a PostgreSQL database (``--db postgresql://...``); both
get the same migrations (:mod:`central.db.pg_migrate`). ``export`` copies a station's
SQLite database into PostgreSQL (:mod:`central.db.pg_export`) and then verifies the
copied audit chain. Every failure is one line with the cause and the fix.

A password in a URL shows in the process list: leave it out and set ``PGPASSWORD`` (or a
``~/.pgpass`` file), which libpq reads.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from alarmlink.config_base import ConfigError
from central.cli_parsers import subcommand
from central.db.pg_migrate import PgError, redact

logger = logging.getLogger(__name__)

URL_PREFIXES = ("postgresql://", "postgres://")


def add_pg_commands(commands: Any) -> None:
    migrate = subcommand(
        commands, "migrate", cmd_migrate,
        summary="apply pending schema migrations to the SQLite file or PostgreSQL",
        description="Apply every pending migration to central's database. Stop central "
                    "first when it runs on this SQLite file (it migrates at start anyway).")
    migrate.add_argument("--config", type=Path, help="central TOML config (its db)")
    migrate.add_argument("--db", help="SQLite file, or postgresql://USER@HOST:PORT/DB")

    export = subcommand(
        commands, "export", cmd_export,
        summary="copy a station's SQLite database into PostgreSQL",
        description="Copy every table of the SQLite database into a PostgreSQL database in "
                    "one transaction (ids kept, sequences advanced), then verify the copied "
                    "audit chain. The target is migrated first and must be empty.")
    export.add_argument("--config", type=Path, help="central TOML config (its db)")
    export.add_argument("--db", type=Path, help="the station's SQLite database")
    export.add_argument("--to", required=True, dest="url",
                        help="postgresql://USER@HOST:PORT/DB (password: PGPASSWORD)")
    export.add_argument("--replace", action="store_true",
                        help="empty a target that holds rows instead of refusing it")


def _fail(message: str) -> int:
    print(f"alarmlink central: {message}", file=sys.stderr)
    return 2


def _sqlite_path(config: Path | None, db: str | Path | None) -> Path:
    if db is not None:
        return Path(db)
    if config is None:
        raise PgError("name the database: --db PATH (or --config central.toml)")
    from central.config import load_config

    return load_config(config).db_path


def cmd_migrate(args: argparse.Namespace) -> int:
    try:
        if args.db and str(args.db).startswith(URL_PREFIXES):
            return _migrate_pg(str(args.db))
        return _migrate_sqlite(_sqlite_path(args.config, args.db))
    except (PgError, ConfigError) as exc:
        return _fail(str(exc))


def _migrate_pg(url: str) -> int:
    from central.db.pg_migrate import apply, connect, migration_names

    with connect(url) as conn:
        done = apply(conn)
    _say(done, redact(url), len(migration_names()))
    return 0


def _migrate_sqlite(path: Path) -> int:
    import sqlite3

    from sqlite_utils import Database

    from central.db import migrations, open_db
    from central.db.pg_migrate import migration_names

    if not path.is_file():
        raise PgError(f"no database at {path}: check --db (`alarmlink central init DIR` "
                      "creates DIR/central.db)")
    try:
        probe = Database(sqlite3.connect(str(path)))
        names = [m.name for m in migrations.pending(probe)]
        probe.close()
        open_db(path).close()
    except sqlite3.Error as exc:
        raise PgError(f"cannot migrate {path}: {exc} (is it a central database, and is "
                      "central stopped?)") from None
    _say(names, str(path), len(migration_names()))
    return 0


def _say(done: list[str], where: str, total: int) -> None:
    if done:
        print(f"applied {len(done)} migration(s) to {where}: {', '.join(done)}")
    else:
        print(f"{where} is up to date ({total} migrations)")


def cmd_export(args: argparse.Namespace) -> int:
    from central import audit
    from central.audit_pg import verify_pg
    from central.db import open_db
    from central.db.pg_export import export
    from central.db.pg_migrate import connect

    if not str(args.url).startswith(URL_PREFIXES):
        return _fail(f"--to {args.url!r} is not a PostgreSQL URL: give "
                     "postgresql://USER@HOST:PORT/DATABASE")
    try:
        path = _sqlite_path(args.config, args.db)
        with connect(args.url) as conn:
            report = export(path, conn, replace=args.replace)
            copied = verify_pg(conn)
    except (PgError, ConfigError) as exc:
        return _fail(str(exc))
    source = audit.verify(open_db(path, query_only=True))
    print(f"copied {report.total} rows in {len(report.rows)} tables from {path} to "
          f"{redact(args.url)}")
    for table, rows in report.rows.items():
        if rows:
            print(f"  {table}: {rows}")
    print(f"PostgreSQL: {copied.message()}")
    if copied.ok != source.ok or copied.last_hash != source.last_hash:
        print(f"the copied chain differs from the SQLite one ({source.message()})",
              file=sys.stderr)
        return 1
    return 0 if copied.ok else 1
