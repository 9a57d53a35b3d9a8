"""``alarmlink central broker-config``: the Mosquitto files, generated from central's db."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from alarmlink.broker import BrokerError
from alarmlink.tls import TlsError
from central.audit import record_cli
from central.credentials import BrokerSettings, reload_broker, set_password, write_broker_config
from central.db import open_db

logger = logging.getLogger(__name__)


def add_broker_config_command(commands: Any) -> None:
    parser = commands.add_parser(
        "broker-config", help="write mosquitto.conf, passwd, acl and TLS files from the db",
        description="Generate the broker's files from central's MQTT accounts. Re-run it (or "
                    "provision/revoke with --broker-dir) and reload the broker after changes.")
    parser.add_argument("--db", type=Path, required=True, help="central SQLite database")
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
    parser.set_defaults(func=cmd_broker_config)


def cmd_broker_config(args: argparse.Namespace) -> int:
    db = open_db(args.db)
    try:
        if args.central_password_file is not None:
            password = args.central_password_file.read_text().splitlines()[0].strip()
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
