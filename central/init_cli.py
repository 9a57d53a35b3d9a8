"""``alarmlink central init DIR``: a working station in one command.

It writes, into ``DIR``:

* ``central.toml``: a commented config (ports, database, broker account);
* ``central.db``: the database with a registry skeleton (a county, a station and one
  example venue) or the registry file given with ``--registry``;
* ``secrets/``: central's MQTT password and the first admin's and installer's
  passwords (0600 files);
* ``mosquitto/``: the broker's files (TLS, password file, ACL), as
  ``alarmlink central broker-config`` writes them;
* ``tls/``: the console's HTTPS certificate for the ``--hostname`` names, issued by the
  deployment CA in ``mosquitto/ca.crt`` (key 0600). ``[http]`` uses it when ``--https``
  is given, or by default when a ``--hostname`` is (a console on the LAN needs HTTPS for
  the microphone); otherwise plain HTTP on localhost, the lines left commented;

and prints the exact commands that come next. Run it again and it keeps what exists
(it says so); ``--force`` rewrites the config and the passwords.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from alarmlink.broker import BrokerError
from alarmlink.tls import TlsError, ensure_server_cert
from alarmlink.wire import utcnow
from central.audit import record_cli
from central.auth import users
from central.credentials import BrokerSettings, set_password, write_broker_config
from central.db import open_db
from central.registry import (
    County,
    RegistryError,
    Station,
    Venue,
    add_county,
    add_station,
    add_venue,
    load_registry,
)

logger = logging.getLogger(__name__)

#: The registry skeleton a fresh station starts with (edit or replace it later).
EXAMPLE_COUNTY = County(id="example-county", name="示例县公安局")
EXAMPLE_STATION = Station(id="example-station", name="示例派出所", county="example-county")
EXAMPLE_VENUE = Venue(id="school-01", name="示例小学", kind="school",
                      address="", station="example-station")

CONFIG_TEMPLATE = """\
# alarmlink central: written by `alarmlink central init`. Every key: docs/reference.md,
# "Configuration" (in the alarmlink repository).
# Relative paths are relative to this file.

db = "central.db"            # SQLite database (WAL); back it up with the broker's files
data_dir = "data"            # snapshots and other data

[broker]
url = "mqtt://127.0.0.1:{plain_port}"   # the broker's plain listener, loopback only
username = "central"
password_file = "secrets/central-mqtt.password"

[http]
host = "{http_host}"           # listen address: "0.0.0.0" serves the console on the LAN (list the
port = {http_port}                  # names officers type in allowed_hosts)
{hosts_comment}allowed_hosts = {allowed_hosts}
# HTTPS (browsers allow the microphone only on secure origins): the certificate
# `central init` issued from the deployment CA; duty-room PCs trust mosquitto/ca.crt
# (docs/operations.md, "HTTPS for the console"). Both lines or neither.
{tls_comment}tls_cert = "tls/console.crt"
{tls_comment}tls_key = "tls/console.key"

[audit]
timezone = "Asia/Shanghai"
"""


class InitError(Exception):
    """A one-line failure for the user."""


def add_init_command(commands: Any) -> None:
    parser = commands.add_parser(
        "init", help="create a working station in DIR: config, database, broker files, "
                     "first admin",
        description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dir", type=Path, help="the station's directory (created)")
    parser.add_argument("--registry", type=Path,
                        help="registry TOML to load instead of the example skeleton")
    parser.add_argument("--hostname", action="append", default=[],
                        help="name or IP devices use for the broker (repeat; goes into the "
                             "TLS certificate; default localhost, 127.0.0.1)")
    parser.add_argument("--plain-port", type=int, default=1883,
                        help="broker's loopback listener for central (default 1883)")
    parser.add_argument("--tls-port", type=int, default=8883,
                        help="broker's TLS listener for devices (default 8883)")
    parser.add_argument("--http-port", type=int, default=8080,
                        help="console and API port (default 8080)")
    parser.add_argument("--https", action=argparse.BooleanOptionalAction, default=None,
                        help="serve the console over HTTPS with the certificate in DIR/tls/ "
                             "(default: on when --hostname is given, off for localhost)")
    parser.add_argument("--admin", default="admin", help="first admin's user name")
    parser.add_argument("--force", action="store_true",
                        help="rewrite central.toml and the passwords in secrets/")
    parser.set_defaults(func=cmd_init)


def _secret(path: Path, force: bool, made: list[str]) -> tuple[str, bool]:
    """The password in ``path``; a new one is written when missing (or ``force``)."""
    if path.exists() and not force:
        try:
            return path.read_text(encoding="utf-8").strip(), False
        except OSError as exc:
            raise InitError(f"cannot read {path}: {exc.strerror}; fix its permissions or "
                            "give --force to make a new one") from None
    password = secrets.token_urlsafe(18)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    made.append(str(path))
    return password, True


def https_on(args: argparse.Namespace) -> bool:
    """``--https`` as given, else on exactly when ``--hostname`` names the LAN host."""
    return bool(args.hostname) if args.https is None else bool(args.https)


def _http_lines(args: argparse.Namespace) -> dict[str, str]:
    """``[http]`` host and allowed_hosts: the LAN names of ``--hostname`` when given."""
    if not args.hostname:
        return {"http_host": "127.0.0.1", "hosts_comment": "# ",
                "allowed_hosts": '["console.station.lan"]'}
    names = list(dict.fromkeys(["localhost", "127.0.0.1", "::1", *args.hostname]))
    return {"http_host": "0.0.0.0", "hosts_comment": "",
            "allowed_hosts": "[" + ", ".join(f'"{n}"' for n in names) + "]"}


def _stat_or_none(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns


def _check_ports(args: argparse.Namespace) -> None:
    for flag in ("plain_port", "tls_port", "http_port"):
        value = getattr(args, flag)
        if not 1 <= value <= 65535:
            raise InitError(f"--{flag.replace('_', '-')} {value}: a port is 1 to 65535")
    if len({args.plain_port, args.tls_port, args.http_port}) < 3:
        raise InitError("--plain-port, --tls-port and --http-port must differ")


def init_station(args: argparse.Namespace) -> list[str]:
    """Create or complete the station in ``args.dir``; returns the next commands."""
    _check_ports(args)
    root = args.dir.resolve()
    if root.exists() and not root.is_dir():
        raise InitError(f"{root} exists and is not a directory: choose another DIR")
    root.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    kept: list[str] = []
    config = root / "central.toml"
    if config.exists() and not args.force:
        kept.append(str(config))
    else:
        config.write_text(CONFIG_TEMPLATE.format(
            plain_port=args.plain_port, http_port=args.http_port,
            tls_comment="" if https_on(args) else "# ", **_http_lines(args)),
            encoding="utf-8")
        made.append(str(config))
    db_path = root / "central.db"
    db = open_db(db_path)
    try:
        if args.registry is not None:
            load_registry(db, args.registry)
        else:
            add_county(db, EXAMPLE_COUNTY)
            add_station(db, EXAMPLE_STATION)
            if db.execute("SELECT 1 FROM venues WHERE id = ?", [EXAMPLE_VENUE.id]).fetchone() \
                    is None:
                add_venue(db, EXAMPLE_VENUE)
        station = db.execute("SELECT id FROM stations ORDER BY id LIMIT 1").fetchone()
        venue = db.execute("SELECT id, kind FROM venues ORDER BY id LIMIT 1").fetchone()
        central_pw, new_central = _secret(root / "secrets" / "central-mqtt.password",
                                          args.force, made)
        if new_central or db.execute("SELECT 1 FROM mqtt_accounts WHERE username = 'central'"
                                     ).fetchone() is None:
            set_password(db, "central", central_pw, role="central")
        actor = users.Actor(f"cli:{_os_user()}", "cli", "cli")
        _user(db, actor, args.admin, "admin", "root", root / "secrets" /
              f"{args.admin}.password", args.force, made, kept)
        if station is not None:
            _user(db, actor, "installer", "installer", f"station:{station[0]}",
                  root / "secrets" / "installer.password", args.force, made, kept)
        broker_dir = root / "mosquitto"
        settings = BrokerSettings(plain_port=args.plain_port, tls_port=args.tls_port,
                                  hostnames=args.hostname or ["localhost", "127.0.0.1"])
        write_broker_config(db, broker_dir, settings)
        before = _stat_or_none(root / "tls" / "console.crt")
        console = ensure_server_cert(root / "tls", settings.hostnames, stem="console",
                                     ca_directory=broker_dir)
        os.chmod(root / "tls", 0o700)
        (kept if before == _stat_or_none(console.server_cert) else made).append(
            f"{console.server_cert} (the console's HTTPS certificate for "
            f"{', '.join(settings.hostnames)})")
        record_cli(db, "station.init", f"station:{root}", {"created": made, "kept": kept})
    finally:
        db.close()
    for path in made:
        print(f"  created {path}")
    for path in kept:
        print(f"  kept    {path} (exists; --force rewrites it)")
    return _next_commands(root, args, venue)


def _user(db: Any, actor: users.Actor, name: str, role: str, node: str, secret: Path,
          force: bool, made: list[str], kept: list[str]) -> None:
    exists = db.execute("SELECT 1 FROM users WHERE username = ?", [name]).fetchone()
    if exists is not None and not force:
        kept.append(f"user {name}")
        return
    password, _new = _secret(secret, force or exists is None, made)
    if exists is None:
        users.add(db, actor, utcnow(), username=name, role=role, node=node, password=password)
    else:
        users.set_password(db, actor, utcnow(), name, password)
    made.append(f"user {name} ({role} at {node}), password in {secret}")


def _os_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _next_commands(root: Path, args: argparse.Namespace, venue: Any) -> list[str]:
    q = shlex.quote
    venue_id, kind = (venue[0], venue[1]) if venue is not None else ("VENUE", "school")
    host = (args.hostname or ["localhost"])[0]
    console = console_url(args)
    # the provisioning client verifies central's certificate against the deployment CA
    ca_env = f"SSL_CERT_FILE={q(str(root / 'mosquitto' / 'ca.crt'))} " if https_on(args) else ""
    return [
        f"alarmlink central broker-run --broker-dir {q(str(root / 'mosquitto'))}",
        f"alarmlink central serve --config {q(str(root / 'central.toml'))}",
        f"alarmlink provision device --central-db {q(str(root / 'central.db'))} "
        f"--venue {venue_id} --kind {kind} --profile pi-header-direct "
        f"--zones gate-button,dormitory-smoke --device-id {venue_id} "
        f"--broker-url mqtts://{host}:{args.tls_port} "
        f"--broker-dir {q(str(root / 'mosquitto'))} --out {q(str(root / 'bundles' / venue_id))}",
        f"{ca_env}alarmlink provision commission start --device {venue_id} --central-url "
        f"{console} --username installer --password-file "
        f"{q(str(root / 'secrets' / 'installer.password'))} --reason 新装设备调试",
        f"alarmlink provision try-local --bundle {q(str(root / 'bundles' / venue_id))} --walk",
        f"{ca_env}alarmlink provision commission report --device {venue_id} --central-url "
        f"{console} --username installer --password-file "
        f"{q(str(root / 'secrets' / 'installer.password'))} --stop --out report.html",
    ]


def console_url(args: argparse.Namespace) -> str:
    """The console's address as the station's own PC reaches it."""
    if https_on(args):
        host = (args.hostname or ["localhost"])[0]
        host = f"[{host}]" if ":" in host else host
        return f"https://{host}:{args.http_port}"
    return f"http://127.0.0.1:{args.http_port}"


def trust_lines(ca: Path) -> list[str]:
    """How to make the duty-room PCs trust the deployment CA (docs/operations.md)."""
    q = shlex.quote
    return [
        f"HTTPS: copy {ca} to each duty-room PC and trust it once:",
        "  Windows (as administrator): certutil -addstore -f ROOT ca.crt",
        "  Debian/UOS/Kylin: sudo cp ca.crt /usr/local/share/ca-certificates/alarmlink-ca.crt"
        " && sudo update-ca-certificates",
        "  Firefox (own store): policies.json {\"policies\": {\"Certificates\": "
        "{\"ImportEnterpriseRoots\": true, \"Install\": [\"/path/to/ca.crt\"]}}}",
        f"  check: curl --cacert {q(str(ca))} {{console}}/healthz",
    ]


def cmd_init(args: argparse.Namespace) -> int:
    try:
        commands = init_station(args)
    except (InitError, RegistryError, users.UserError, BrokerError, TlsError) as exc:
        print(f"alarmlink central init: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"alarmlink central init: {exc.filename or args.dir}: {exc.strerror}; choose a "
              "directory you can write", file=sys.stderr)
        return 2
    root = args.dir.resolve()
    print(f"station ready in {root}. Next (the broker and central each in a terminal of "
          "their own):")
    for command in commands:
        print(f"  {command}")
    console = console_url(args)
    print(f"console: {console}/ — log in as {args.admin}, password in "
          f"{root / 'secrets' / (args.admin + '.password')}")
    ca = root / "mosquitto" / "ca.crt"
    if https_on(args):
        for line in trust_lines(ca):
            print(line.replace("{console}", console))
    else:
        print(f"plain HTTP on localhost (the microphone works there only); for officers on "
              f"the LAN: --hostname NAME (HTTPS, certificate in {root / 'tls'})")
    return 0
