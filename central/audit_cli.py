"""``alarmlink central audit verify | export | list``: the audit trail from the command line.

``verify`` exits 0 when the chain is intact and 1 naming the first broken row;
``export`` writes CSV (UTF-8 with BOM, for Excel) of a date range, dates in the
stations' time zone; ``list`` prints rows as JSON, newest first.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from central import audit, audit_retention
from central.audit_config import DEFAULT_TIMEZONE, zone_info
from central.db import open_db
from central.db.backend import db_target, is_postgresql, open_database
from central.db.pg_migrate import PgError

logger = logging.getLogger(__name__)


def add_audit_commands(commands: Any) -> None:
    parser = commands.add_parser("audit", help="verify, export and list the audit trail")
    sub = parser.add_subparsers(dest="audit_command", metavar="COMMAND")
    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])

    check = sub.add_parser("verify", help="check the hash chain; exit 1 naming the first "
                           "row that does not fit")
    _db_arg(check)
    check.set_defaults(func=_guard(cmd_verify))

    out = sub.add_parser("export", help="CSV of the rows written in a date range "
                         "(UTF-8 with BOM, opens in Excel)")
    _db_arg(out)
    out.add_argument("--from", dest="start", required=True, type=_date,
                     help="first day, e.g. 2026-11-01 (in --timezone)")
    out.add_argument("--to", dest="end", required=True, type=_date,
                     help="day after the last, e.g. 2026-12-01 (exclusive)")
    out.add_argument("--timezone", default=DEFAULT_TIMEZONE,
                     help=f"the stations' time zone (default {DEFAULT_TIMEZONE})")
    out.add_argument("--out", type=Path, help="file to write (default: standard output)")
    out.set_defaults(func=_guard(cmd_export))

    listing = sub.add_parser("list", help="rows as JSON, newest first")
    _db_arg(listing)
    listing.add_argument("--object", help="e.g. incident:12, device:school-01")
    listing.add_argument("--username", help="only this user's acts")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (1-1000)")
    listing.set_defaults(func=_guard(cmd_list))


def _guard(command: Callable[[argparse.Namespace], int]
           ) -> Callable[[argparse.Namespace], int]:
    """An unreachable PostgreSQL ``--db``: one line and exit code 2."""
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except PgError as exc:
            return _fail(str(exc))
    return run


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=db_target, required=True,
                        help="central's SQLite database file, or a postgresql:// URL")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as "
                                         "YYYY-MM-DD, e.g. 2026-11-01") from None


def _fail(message: str) -> int:
    print(f"alarmlink central audit: {message}", file=sys.stderr)
    return 2


def _open(path: Path | str) -> Any:
    """The database, or None when there is no such file (a PostgreSQL URL: opened, or
    :class:`~central.db.pg_migrate.PgError`, one line)."""
    if is_postgresql(path):
        return open_database(path)
    assert isinstance(path, Path)
    if not path.exists():
        return None
    return open_db(path)


def cmd_verify(args: argparse.Namespace) -> int:
    db = _open(args.db)
    if db is None:
        return _fail(f"{args.db}: no such database (give central's --db file)")
    result = audit.verify(db)
    if result.ok:
        print(result.message())
        return 0
    print(result.message(), file=sys.stderr)
    return 1


def cmd_export(args: argparse.Namespace) -> int:
    try:
        zone = zone_info(args.timezone)
    except ValueError as exc:
        return _fail(str(exc))
    if args.end <= args.start:
        return _fail(f"--to {args.end} is not after --from {args.start}; --to is the day "
                     "after the last day to export")
    db = _open(args.db)
    if db is None:
        return _fail(f"{args.db}: no such database (give central's --db file)")
    start = datetime.combine(args.start, time(), zone)
    end = datetime.combine(args.end, time(), zone)
    text = audit_retention.export(db, start, end, timezone=args.timezone)
    if args.out is None:
        sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        return _fail(f"{args.out}: cannot write: {exc.strerror}")
    print(f"{text.count(chr(10)) - 1} audit rows written to {args.out}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= audit.LIST_LIMIT_MAX:
        return _fail(f"--limit {args.limit}: give 1 to {audit.LIST_LIMIT_MAX}")
    db = _open(args.db)
    if db is None:
        return _fail(f"{args.db}: no such database (give central's --db file)")
    rows = audit.list_entries(db, object=args.object, username=args.username,
                              limit=args.limit)
    print(json.dumps(rows, indent=2, ensure_ascii=False))
    return 0
