"""``alarmlink central roster add|list|remove`` and ``alarmlink central failover-key``.

Thin over :mod:`central.escalation.roster` and :mod:`central.escalation.failover`; every
act is in the audit log as ``cli:<os user>``; every failure is one line with the cause and
the fix.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alarmlink.wire import utcnow
from central.audit import cli_actor, record_cli
from central.db import open_db
from central.db.backend import db_target, is_postgresql, open_database
from central.db.pg_migrate import PgError
from central.escalation import roster
from central.escalation.failover import FailoverKeyError, set_key

logger = logging.getLogger(__name__)


class _Refused(Exception):
    """A one-line failure for the user."""


def add_escalation_commands(commands: Any) -> None:
    parser = commands.add_parser("roster", help="the duty roster (值班表): add, list, remove "
                                 "shifts")
    sub = parser.add_subparsers(dest="roster_command", metavar="COMMAND")
    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])

    add = sub.add_parser("add", help="put a user on duty at a station for a time")
    _db(add)
    add.add_argument("--station", required=True, help="station id")
    add.add_argument("--username", required=True, help="the officer (an existing user)")
    add.add_argument("--duty", choices=["officer", "leader"], default="officer",
                     help="officer on duty (default) or leader on call")
    add.add_argument("--starts", required=True, type=_moment,
                     help="start, ISO 8601 with time zone, e.g. 2025-06-01T08:00+08:00")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--ends", type=_moment, help="end, ISO 8601 with time zone")
    when.add_argument("--hours", type=float, help="length of the shift in hours")
    add.set_defaults(func=_run(cmd_add))

    listing = sub.add_parser("list", help="print the shifts as JSON and who is on duty now")
    _db(listing)
    listing.add_argument("--station", help="only this station")
    listing.add_argument("--at", type=_moment, help="who is on duty at this moment "
                         "(default now)")
    listing.set_defaults(func=_run(cmd_list))

    remove = sub.add_parser("remove", help="remove a shift by its id")
    _db(remove)
    remove.add_argument("--id", type=int, required=True, help="shift id (from list)")
    remove.set_defaults(func=_run(cmd_remove))

    key = commands.add_parser("failover-key", help="make a venue device's failover key "
                              "(verifies the alarms it sends by SMS when its network is down)")
    _db(key)
    key.add_argument("--device", required=True, help="device id")
    key.add_argument("--out", type=Path, required=True,
                     help="file to write the key to (0600); the agent's [modem] key_file")
    key.set_defaults(func=_run(cmd_failover_key))


def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=db_target, required=True,
                        help="central's SQLite database file, or a postgresql:// URL")


def _moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time, e.g. "
                                         "2025-06-01T08:00+08:00") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone: add +08:00 (or Z)")
    return value


def _run(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except (_Refused, roster.RosterError, FailoverKeyError) as exc:
            print(f"alarmlink central: {exc}", file=sys.stderr)
            return 2
    return run


def _open(args: argparse.Namespace) -> Any:
    if is_postgresql(args.db):
        try:
            return open_database(args.db)
        except PgError as exc:
            raise _Refused(str(exc)) from None
    if not args.db.is_file():
        raise _Refused(f"no database at {args.db}: check --db (`alarmlink central init DIR` "
                       "creates DIR/central.db)")
    return open_db(args.db)


def cmd_add(args: argparse.Namespace) -> int:
    db = _open(args)
    ends = args.ends or args.starts + timedelta(hours=args.hours)
    shift = roster.add_shift(db, station_id=args.station, username=args.username,
                             duty=args.duty, starts_at=args.starts, ends_at=ends,
                             actor=cli_actor(), now=utcnow())
    record_cli(db, "roster.manage", f"station:{args.station}",
               {"added": shift["id"], "username": args.username, "duty": args.duty})
    print(f"shift {shift['id']}: {args.username} on {args.duty} duty at {args.station} from "
          f"{shift['starts_at']} to {shift['ends_at']}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    db = _open(args)
    at = args.at or utcnow()
    shifts = roster.list_shifts(db, args.station)
    stations = [args.station] if args.station else sorted({s["station_id"] for s in shifts})
    on_duty = {station: [{k: r[k] for k in ("username", "duty", "ends_at", "mobile")}
                         for r in roster.on_duty(db, station, at)] for station in stations}
    print(json.dumps({"at": at.isoformat(), "on_duty": on_duty, "shifts": shifts},
                     ensure_ascii=False, indent=2))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    db = _open(args)
    shift = roster.remove_shift(db, args.id)
    if shift is None:
        raise _Refused(f"no shift {args.id}: see `alarmlink central roster list --db "
                       f"{args.db}`")
    record_cli(db, "roster.manage", f"station:{shift['station_id']}",
               {"removed": args.id, "username": shift["username"]})
    print(f"shift {args.id} ({shift['username']} at {shift['station_id']}) removed")
    return 0


def cmd_failover_key(args: argparse.Namespace) -> int:
    db = _open(args)
    key = set_key(db, args.device, utcnow())
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(key + "\n")
        args.out.chmod(0o600)
    except OSError as exc:
        raise _Refused(f"cannot write {args.out}: {exc.strerror}; choose another --out") from None
    record_cli(db, "device.failover_key", f"device:{args.device}", {})
    print(f"failover key of {args.device} written to {args.out} (0600): copy it to the "
          "device and name it in [modem] key_file")
    return 0
