"""``alarmlink central user add|passwd|disable|enable|unlock|list|roles|totp``.

Thin over :mod:`central.auth.users`; the audit log names the acting user
``cli:<os user>``. Passwords come from ``--password-file`` or are asked twice
(never on the command line). Every failure is one line: the cause and the fix.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pyotp

from alarmlink.wire import utcnow
from central.auth import users
from central.auth.permissions import ACTIONS, MATRIX, ROLE_DESCRIPTIONS, ROLES
from central.db import open_db
from central.db.backend import is_postgresql, open_database
from central.db.pg_migrate import PgError

logger = logging.getLogger(__name__)


class _Refused(Exception):
    """A one-line failure for the user."""


def add_user_commands(commands: Any) -> None:
    parser = commands.add_parser("user", help="officers' accounts: add, passwd, disable, "
                                 "enable, unlock, list, roles, totp")
    sub = parser.add_subparsers(dest="user_command", metavar="COMMAND")
    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])

    add = sub.add_parser("add", help="create a user (asks for the password twice)")
    _common(add)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--node", required=True,
                     help="root | city:ID | county:ID | station:ID | office:ID")
    add.add_argument("--display-name", default="", help="name shown in the console")
    add.add_argument("--mobile", default="")
    add.add_argument("--password-file", type=Path, help="file holding the password")
    add.set_defaults(func=_run(cmd_add))

    passwd = sub.add_parser("passwd", help="set a user's password")
    _common(passwd)
    passwd.add_argument("--password-file", type=Path, help="file holding the password")
    passwd.set_defaults(func=_run(cmd_passwd))

    for name, help_text in (("disable", "disable a user and end their sessions at once"),
                            ("enable", "enable a disabled user"),
                            ("unlock", "clear a user's lockout and failed logins")):
        cmd = sub.add_parser(name, help=help_text)
        _common(cmd)
        cmd.set_defaults(func=_run(cmd_simple), action=name)

    listing = sub.add_parser("list", help="print the users as JSON (no secrets)")
    listing.add_argument("--db", required=True,
                         help="central SQLite database, or postgresql://USER@HOST:PORT/DB")
    listing.set_defaults(func=_run(cmd_list))

    roles = sub.add_parser("roles", help="print each role and what it may do")
    roles.set_defaults(func=_run(cmd_roles))

    totp = sub.add_parser("totp", help="second factor: enable (prints the otpauth URI once) "
                          "or disable")
    totp.add_argument("totp_action", choices=["enable", "disable"])
    _common(totp)
    totp.set_defaults(func=_run(cmd_totp))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True,
                         help="central SQLite database, or postgresql://USER@HOST:PORT/DB")
    parser.add_argument("--username", required=True)


def _run(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except (_Refused, users.UserError) as exc:
            print(f"alarmlink central user: {exc}", file=sys.stderr)
            return 2
    return run


def _actor() -> users.Actor:
    return users.Actor(f"cli:{getpass.getuser()}", "cli", "cli")


def _password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        try:
            text = args.password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise _Refused(f"cannot read {args.password_file}: {exc.strerror}") from None
        password = text.rstrip("\r\n")
        if not password:
            raise _Refused(f"{args.password_file} is empty: write the password into it")
        return password
    if not sys.stdin.isatty():
        raise _Refused("no terminal to ask for the password: use --password-file FILE")
    first = getpass.getpass(f"password for {args.username}: ")
    if first != getpass.getpass("again: "):
        raise _Refused("the two passwords differ: run the command again")
    return first


def _db(args: argparse.Namespace) -> Any:
    if is_postgresql(args.db):
        try:
            return open_database(str(args.db))
        except PgError as exc:
            raise _Refused(str(exc)) from None
    args.db = Path(args.db)
    if not args.db.parent.is_dir():
        raise _Refused(f"directory {args.db.parent} does not exist: give central's --db "
                       "(the database file is created there if it is new)")
    return open_db(args.db)


def cmd_add(args: argparse.Namespace) -> int:
    db = _db(args)
    kind, node_id = users.parse_node(args.node)
    users.check_node(db, kind, node_id)
    user = users.add(db, _actor(), utcnow(), username=args.username, role=args.role,
                     node=args.node, password=_password(args), display_name=args.display_name,
                     mobile=args.mobile)
    print(f"user {user['username']} added ({user['role']} at {args.node})")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    db = _db(args)
    users.get(db, args.username)
    users.set_password(db, _actor(), utcnow(), args.username, _password(args))
    print(f"password of {args.username} changed")
    return 0


def cmd_simple(args: argparse.Namespace) -> int:
    db = _db(args)
    fn = {"disable": users.disable, "enable": users.enable, "unlock": users.unlock}
    fn[args.action](db, _actor(), utcnow(), args.username)
    print(f"user {args.username}: {args.action}d")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    print(json.dumps(users.list_users(_db(args)), indent=2, ensure_ascii=False))
    return 0


def cmd_roles(args: argparse.Namespace) -> int:
    del args
    for role in ROLES:
        actions = [a for a in ACTIONS if role in MATRIX[a]]
        print(f"{role}: {ROLE_DESCRIPTIONS[role]}\n    may: {', '.join(actions) or '-'}")
    return 0


def cmd_totp(args: argparse.Namespace) -> int:
    db = _db(args)
    user = users.get(db, args.username)
    if args.totp_action == "disable":
        users.set_totp(db, _actor(), args.username, None)
        print(f"TOTP disabled for {user['username']}")
        return 0
    secret = pyotp.random_base32()
    users.set_totp(db, _actor(), args.username, secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user["username"], issuer_name="alarmlink")
    print("Add this to the user's authenticator app now (it is shown only once):")
    print(uri)
    return 0
