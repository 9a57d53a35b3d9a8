"""Copy a station's SQLite database into PostgreSQL (``alarmlink central export --to URL``).

The copy is all or nothing:

1. The SQLite file is opened read-only and read inside one read transaction (a snapshot:
   a central still running beside it may go on writing; what it writes after the
   snapshot is not copied). It must carry exactly the migrations this alarmlink knows
   (else: run ``central migrate`` on it first, or use the newer alarmlink).
2. The PostgreSQL database is migrated to the same list (:func:`central.db.pg_migrate.apply`).
3. A target that holds any row is refused, unless ``replace`` (then every table is
   emptied in the same transaction as the copy).
4. In ONE PostgreSQL transaction, every table in foreign-key dependency order (parents
   first) is copied with ``COPY`` (ids kept), each identity sequence is moved past the
   largest copied id, and the row counts are compared with the source's. Any failure
   rolls the whole copy back.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from central.db.pg_migrate import PgError, apply, migration_names
from central.db.schema import migrations

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

#: SQLite's own bookkeeping: never copied (PostgreSQL keeps ``alarmlink_migrations``)
SKIPPED = ("_sqlite_migrations",)


@dataclass
class ExportReport:
    """What was copied: rows per table, in the order they were copied."""

    rows: dict[str, int] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def open_source(path: Path) -> sqlite3.Connection:
    """The station's SQLite file, read-only, or a :class:`PgError` saying why not."""
    if not path.is_file():
        raise PgError(f"no SQLite database at {path}: check --db (or --config)")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise PgError(f"cannot read {path} as a SQLite database: {exc}") from None
    return conn


def check_source_migrations(conn: sqlite3.Connection, path: Path) -> None:
    known = migration_names()
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid",
            [migrations.name])]
    except sqlite3.OperationalError:
        names = []
    unknown = [n for n in names if n not in known]
    if unknown:
        raise PgError(f"{path} carries migrations this alarmlink does not know ({unknown[0]}"
                      "...): export it with the alarmlink that last ran on it")
    missing = [n for n in known if n not in names]
    if missing:
        raise PgError(f"{path} lacks {len(missing)} migration(s) (first {missing[0]}): run "
                      f"`alarmlink central migrate --db {path}` first")


def copy_order(conn: sqlite3.Connection) -> list[str]:
    """The source's tables, every table after the tables it references."""
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name") if r[0] not in SKIPPED]
    graph: dict[str, set[str]] = {}
    for table in tables:
        parents = {str(r[2]) for r in conn.execute(f'PRAGMA foreign_key_list("{table}")')}
        graph[table] = {p for p in parents if p != table and p in tables}
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise PgError(f"the tables' foreign keys form a cycle ({exc.args[1]}): this export "
                      "cannot order them") from None


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _order_by(conn: sqlite3.Connection, table: str) -> str:
    """The primary key's columns (a ``WITHOUT ROWID`` table has no rowid), else rowid."""
    keys = sorted((int(r[5]), str(r[1])) for r in conn.execute(f'PRAGMA table_info("{table}")')
                  if int(r[5]) > 0)
    return ", ".join(f'"{name}"' for _, name in keys) if keys else "rowid"


def _target_tables(pg: psycopg.Connection[Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for table, column in pg.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()"):
        out.setdefault(str(table), set()).add(str(column))
    return out


def _non_empty(pg: psycopg.Connection[Any], tables: list[str]) -> list[str]:
    return [t for t in tables
            if pg.execute(f'SELECT EXISTS (SELECT 1 FROM "{t}")'.encode()).fetchone()
            == (True,)]


def export(source_path: Path, pg: psycopg.Connection[Any], *, replace: bool = False
           ) -> ExportReport:
    """Copy every table of ``source_path`` into the PostgreSQL database of ``pg``."""
    import psycopg

    src = open_source(source_path)
    try:
        check_source_migrations(src, source_path)
        apply(pg)
        order = copy_order(src)
        target = _target_tables(pg)
        for table in order:
            if table not in target:
                raise PgError(f"table {table} of {source_path} has no counterpart in "
                              "PostgreSQL: it is not part of central's migrations")
            extra = set(_columns(src, table)) - target[table]
            if extra:
                raise PgError(f"table {table} of {source_path} has columns PostgreSQL lacks: "
                              f"{', '.join(sorted(extra))}")
        busy = _non_empty(pg, order)
        if busy and not replace:
            raise PgError(f"the PostgreSQL database is not empty ({len(busy)} tables hold rows, "
                          f"e.g. {busy[0]}): export into a new database, or add --replace to "
                          "empty it first")
        src.execute("BEGIN")  # one snapshot for every table
        try:
            with pg.transaction():
                if replace:
                    names = ", ".join(f'"{t}"' for t in order)
                    pg.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE".encode())
                report = ExportReport()
                for table in order:
                    report.rows[table] = _copy_table(src, pg, table)
                report.sequences = _advance_sequences(pg)
                _check_counts(pg, report)
        except psycopg.Error as exc:
            text = str(exc).strip().splitlines()
            raise PgError(f"the copy was rolled back, PostgreSQL refused it: "
                          f"{text[0] if text else type(exc).__name__}") from exc
        finally:
            src.execute("ROLLBACK")
        logger.info("exported %s rows in %s tables from %s", report.total, len(report.rows),
                    source_path)
        return report
    finally:
        src.close()


def _copy_table(src: sqlite3.Connection, pg: psycopg.Connection[Any], table: str) -> int:
    columns = _columns(src, table)
    names = ", ".join(f'"{c}"' for c in columns)
    count = 0
    cursor = src.execute(f'SELECT {names} FROM "{table}" ORDER BY {_order_by(src, table)}')
    with pg.cursor() as cur, cur.copy(f'COPY "{table}" ({names}) FROM STDIN'.encode()) as copy:
        while rows := cursor.fetchmany(1000):
            for row in rows:
                copy.write_row(row)
            count += len(rows)
    return count


def _advance_sequences(pg: psycopg.Connection[Any]) -> dict[str, int]:
    """Each identity column's sequence past the largest copied id; table -> next id."""
    out: dict[str, int] = {}
    for table, column in pg.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall():
        row = pg.execute(
            f'SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(max("{column}"), 0) + 1,'
            f' false) FROM "{table}"'.encode(), [f'"{table}"', column]).fetchone()
        out[str(table)] = int(row[0]) if row else 1
    return out


def _check_counts(pg: psycopg.Connection[Any], report: ExportReport) -> None:
    for table, expected in report.rows.items():
        row = pg.execute(f'SELECT count(*) FROM "{table}"'.encode()).fetchone()
        if row is None or int(row[0]) != expected:
            raise PgError(f"table {table}: {expected} rows read, "
                          f"{None if row is None else row[0]} in PostgreSQL")
