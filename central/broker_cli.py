"""``alarmlink central broker-config``: the Mosquitto files, generated from central's db."""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import shutil
import sys
from pathlib import Path
from typing import Any

from alarmlink.broker import BROKER_USER, BrokerError
from alarmlink.tls import TlsError
from central.audit import record_cli
from central.cli_parsers import subcommand
from central.credentials import (
    PID_FILE,
    BrokerSettings,
    reload_broker,
    set_password,
    write_broker_config,
)
from central.db.backend import db_target, open_database
from central.db.pg_migrate import PgError

logger = logging.getLogger(__name__)


def add_broker_config_command(commands: Any) -> None:
    parser = subcommand(
        commands, "broker-config", cmd_broker_config,
        summary="write mosquitto.conf, passwd, acl and TLS files from the db",
        description="Generate the broker's files from central's MQTT accounts. Re-run it (or "
                    "provision/revoke with --broker-dir) and reload the broker after changes.")
    parser.add_argument("--db", type=db_target, required=True,
                        help="central's SQLite database file, or a postgresql:// URL")
    parser.add_argument("--out", type=Path, required=True,
                        help="directory, e.g. /etc/alarmlink/mosquitto")
    parser.add_argument("--central-username", default="central")
    parser.add_argument("--central-password-file", type=Path,
                        help="central's MQTT password (hashed into the db; rotates it)")
    parser.add_argument("--hostname", action="append", default=[],
                        help="name or IP devices use for the broker (repeat); goes into the "
                             "server certificate (default: localhost, 127.0.0.1)")
    parser.add_argument("--plain-port", type=int, default=1883,
                        help="plain listener for central (default 1883)")
    parser.add_argument("--plain-bind", default="127.0.0.1")
    parser.add_argument("--tls-port", type=int, default=8883,
                        help="TLS listener for devices (default 8883)")
    parser.add_argument("--tls-bind", default="0.0.0.0")
    parser.add_argument("--data-dir", default="", help="persistence (default OUT/data)")
    parser.add_argument("--broker-pid", type=int, help="SIGHUP this mosquitto afterwards")
    parser.add_argument("--reload-command", help="e.g. 'systemctl reload mosquitto'")

    run = subcommand(
        commands, "broker-run", cmd_broker_run,
        summary="run Mosquitto in the foreground on the files in --broker-dir",
        description="Run mosquitto -c BROKER_DIR/mosquitto.conf in the foreground (Ctrl-C "
                    "stops it). Its pid goes to BROKER_DIR/mosquitto.pid, so provision and "
                    "revoke with --broker-dir reload it by themselves. On a server use "
                    "systemd instead (docs/operations.md).")
    run.add_argument("--broker-dir", type=Path, required=True,
                     help="the directory `central init` or `broker-config` wrote")


def cmd_broker_run(args: argparse.Namespace) -> int:
    conf = args.broker_dir.resolve() / "mosquitto.conf"
    if not conf.is_file():
        return _fail("broker-run", f"{conf} not found: run `alarmlink central init DIR` (or "
                     "`central broker-config --out DIR`) first")
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None)
    if binary is None:
        return _fail("broker-run", "mosquitto is not installed: sudo apt-get install mosquitto")
    blocked = _private_parent(conf.parent)
    if blocked is not None:
        return _fail("broker-run", f"mosquitto drops root for user '{BROKER_USER}', which "
                     f"cannot pass through {blocked} (a private directory): keep the station "
                     f"outside it (e.g. /srv/alarmlink) or run `chmod o+x {blocked}`")
    pid_file = conf.parent / PID_FILE
    pid_file.write_text(f"{os.getpid()}\n")
    print(f"mosquitto -c {conf} (pid {os.getpid()}, in {pid_file}); Ctrl-C stops it",
          flush=True)
    os.execv(binary, [binary, "-c", str(conf)])  # the same pid: the pid file stays true
    return 0  # pragma: no cover


def _private_parent(directory: Path) -> Path | None:
    """Run as root, Mosquitto becomes BROKER_USER: the first parent it cannot traverse."""
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(BROKER_USER)
    except KeyError:
        return None
    for parent in reversed(directory.parents):
        info = parent.stat()
        if info.st_mode & 0o001:
            continue
        if info.st_gid == account.pw_gid and info.st_mode & 0o010:
            continue
        if info.st_uid == account.pw_uid and info.st_mode & 0o100:
            continue
        return parent
    return None


def _fail(command: str, message: str) -> int:
    print(f"alarmlink central {command}: {message}", file=sys.stderr)
    return 2


def cmd_broker_config(args: argparse.Namespace) -> int:
    if args.central_password_file is not None:
        try:
            password = args.central_password_file.read_text().splitlines()[0].strip()
        except OSError as exc:
            return _fail("broker-config", f"cannot read --central-password-file "
                         f"{args.central_password_file}: {exc.strerror}; write central's MQTT "
                         "password into it first (or use `alarmlink central init DIR`)")
        except IndexError:
            return _fail("broker-config", f"--central-password-file "
                         f"{args.central_password_file} is empty: put central's MQTT "
                         "password on its first line")
    try:
        db = open_database(args.db)
    except PgError as exc:
        return _fail("broker-config", str(exc))
    try:
        if args.central_password_file is not None:
            set_password(db, args.central_username, password, role="central")
        settings = BrokerSettings(plain_port=args.plain_port, plain_bind=args.plain_bind,
                                  tls_port=args.tls_port, tls_bind=args.tls_bind,
                                  hostnames=args.hostname or ["localhost", "127.0.0.1"],
                                  data_dir=args.data_dir)
        conf = write_broker_config(db, args.out, settings)
        record_cli(db, "broker.config", f"broker:{args.out}", {
            "central_password_rotated": args.central_password_file is not None})
        print(f"broker config written: {conf}")
        print(reload_broker(pid=args.broker_pid, command=args.reload_command))
    except (OSError, IndexError, BrokerError, TlsError) as exc:
        print(f"alarmlink central broker-config: {exc}", file=sys.stderr)
        return 2
    return 0
