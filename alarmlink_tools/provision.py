"""``alarmlink provision ...``: the installer's commands, run against central's database.

* ``device``  create (or re-provision: rotate) a device identity bound to a venue,
  register it, render its agent config and write the boot bundle;
* ``revoke``  lock a device out at the broker;
* ``commission start|stop|report``  the walk test (also over HTTP with --central-url).

``--broker-dir`` (the directory ``alarmlink central broker-config`` wrote) makes
``device`` and ``revoke`` regenerate the broker's password file and ACL at once;
``--broker-pid`` or ``--reload-command`` then reloads the broker.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import secrets
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alarmlink.broker import BrokerError
from alarmlink.tls import TlsError
from alarmlink.wire import utcnow
from alarmlink_tools.bundle import KINDS, BundleError, render_agent_config, write_bundle

logger = logging.getLogger(__name__)

#: The agent's broker.keepalive_s for each built-in supervision class (docs/reference.md,
#: "Supervision": the broker's last will comes within about 1.5 keepalives).
CLASS_KEEPALIVE_S = {"fast": 5, "standard": 30, "slow": 60}

PASSWORD_BYTES = 32  # secrets.token_urlsafe: 43 characters, 256 bits


def add_provision_commands(sub: Any, name: str, help_text: str) -> None:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    commands = parser.add_subparsers(dest="provision_command", metavar="COMMAND")
    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])

    device = commands.add_parser("device", help="create or rotate a device identity and "
                                 "write its boot bundle")
    _db(device)
    device.add_argument("--venue", required=True, help="registered venue id")
    device.add_argument("--kind", required=True, choices=KINDS,
                        help="venue kind: the firmware_configs template")
    device.add_argument("--profile", required=True,
                        help="hardware profile (firmware_configs/profiles/NAME.toml)")
    device.add_argument("--zones", required=True,
                        help="comma-separated zone names in input order, e.g. "
                             "'gate-button,dorm-smoke,cabinet-tamper' (or NAME:TYPE)")
    device.add_argument("--device-id", required=True)
    device.add_argument("--broker-url", required=True, help="e.g. mqtts://mqtt.example:8883")
    device.add_argument("--insecure", action="store_true",
                        help="allow a plain mqtt:// URL to a host that is not loopback (the "
                             "password and every alarm would cross the network unencrypted)")
    device.add_argument("--out", type=Path, required=True,
                        help="the bundle directory: the card's mounted boot partition")
    device.add_argument("--class", dest="device_class", default="",
                        help="supervision class (e.g. fast)")
    device.add_argument("--heartbeat-s", type=float,
                        help="heartbeat interval (default: the built-in class's, e.g. fast 5 s; "
                             "else the template's)")
    device.add_argument("--ca-file", type=Path,
                        help="CA certificate (default: BROKER_DIR/ca.crt)")
    device.add_argument("--wheel", type=Path, action="append", default=[],
                        help="wheel(s) to install offline on first boot (repeat)")
    device.add_argument("--pip-spec", default="alarmlink[agent]",
                        help="what first boot installs with pip")
    device.add_argument("--try-local", action="store_true",
                        help="then run the bundle's agent on this PC (mock pins, paths "
                             "rewritten to the bundle; events marked test); stdin takes "
                             "press|trip|restore|cut|mend ZONE")
    _broker(device)
    device.set_defaults(func=cmd_device)

    from alarmlink_tools.bundle_try import add_try_arguments

    trying = commands.add_parser(
        "try-local", help="run a boot bundle's agent on this PC with mock pins",
        description="Run the agent of a boot bundle here: mock pins at rest, the password "
                    "and CA read from the bundle, the outbox in BUNDLE/try-local-state; "
                    "everything else as the Pi will run it. Events are marked test unless "
                    "--live.")
    add_try_arguments(trying, with_bundle=True)
    trying.set_defaults(func=cmd_try_local)

    revoke = commands.add_parser("revoke", help="lock a device out at the broker")
    _db(revoke)
    revoke.add_argument("--device-id", required=True)
    revoke.add_argument("--actor", default="installer")
    _broker(revoke)
    revoke.set_defaults(func=cmd_revoke)

    commission = commands.add_parser("commission", help="commissioning walk test")
    walk = commission.add_subparsers(dest="commission_command", metavar="COMMAND")
    commission.set_defaults(func=lambda _args: (commission.print_help(), 2)[1])
    for action, text in (("start", "put the device in commissioning mode"),
                         ("stop", "end the walk test"),
                         ("report", "write the HTML commissioning report")):
        cmd = walk.add_parser(action, help=text)
        cmd.add_argument("--device", required=True)
        where = cmd.add_mutually_exclusive_group(required=True)
        where.add_argument("--central-db", type=Path, help="central SQLite database")
        where.add_argument("--central-url", help="central's HTTP address (log in with "
                           "--username and --password-file)")
        cmd.add_argument("--actor", default="installer",
                         help="name recorded with --central-db (over HTTP: the user)")
        cmd.add_argument("--username", help="your central user name (with --central-url)")
        cmd.add_argument("--password-file", type=Path,
                         help="file holding your central password (with --central-url)")
        if action == "start":
            cmd.add_argument("--installer", default="", help="name printed on the report")
            cmd.add_argument("--reason", required=True,
                             help="why the venue's alarms are tests meanwhile (1-200 "
                                  "characters; shown on the duty console)")
            cmd.add_argument("--duration-s", type=int, default=3600,
                             help="how long the walk test runs (default 3600; central's "
                                  "[commissioning] max_duration_s caps it)")
        if action == "report":
            cmd.add_argument("--out", type=Path, required=True, help="report.html")
            cmd.add_argument("--stop", action="store_true", help="end the walk test first")
        cmd.set_defaults(func=cmd_commission, action=action)


def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--central-db", type=Path, required=True, help="central SQLite database")


def _broker(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker-dir", type=Path,
                        help="broker files from `central broker-config`: regenerate them")
    parser.add_argument("--broker-pid", type=int, help="SIGHUP this mosquitto afterwards")
    parser.add_argument("--reload-command", help="e.g. 'systemctl reload mosquitto'")


def _fail(message: str) -> int:
    print(f"alarmlink provision: {message}", file=sys.stderr)
    return 2


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_url_refusal(url: str, *, insecure: bool) -> str | None:
    """Why a device must not get ``url`` (None: fine). A plain ``mqtt://`` URL to a
    host other than this machine sends the device's password and its alarms in clear
    text; ``--insecure`` accepts that knowingly."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or insecure or is_loopback(parts.hostname or ""):
        return None
    return (f"--broker-url {url} is not encrypted: the device's password and alarms would "
            f"cross the network in clear text; use mqtts://{parts.hostname}:8883 (the "
            "broker's TLS listener), or add --insecure on a closed test network")


def cmd_device(args: argparse.Namespace) -> int:
    from central.audit import record_cli
    from central.credentials import regenerate_and_reload, set_password
    from central.db import iso, open_db
    from central.registry import Device, RegistryError, add_device

    refusal = plain_url_refusal(args.broker_url, insecure=args.insecure)
    if refusal is not None:
        return _fail(refusal)
    if not args.central_db.is_file():
        return _fail(f"no database at {args.central_db}: check --central-db (`alarmlink "
                     "central init DIR` creates DIR/central.db)")
    db = open_db(args.central_db)
    venue = db.execute("SELECT name, kind FROM venues WHERE id = ?", [args.venue]).fetchone()
    if venue is None:
        return _fail(f"venue {args.venue!r} is not registered at central: add it with "
                     f"`alarmlink central registry add-venue --db {args.central_db} --id "
                     f"{args.venue} --name NAME --kind {args.kind} --station STATION` "
                     "(`alarmlink central registry show --db DB` lists the stations)")
    if venue[1] != args.kind:
        return _fail(f"venue {args.venue!r} is a {venue[1]}, not a {args.kind}")
    ca_file = args.ca_file or (args.broker_dir / "ca.crt" if args.broker_dir else None)
    if ca_file is None or not ca_file.exists():
        return _fail("no CA certificate: give --broker-dir (from `central broker-config`) "
                     "or --ca-file")
    zones = [z for z in args.zones.split(",") if z.strip()]
    heartbeat_s = args.heartbeat_s
    if heartbeat_s is None and args.device_class:
        from central.supervision_config import BUILTIN_CLASSES

        known = BUILTIN_CLASSES.get(args.device_class)  # a custom class: the template's
        heartbeat_s = known.heartbeat_s if known else None
    try:
        config = render_agent_config(kind=args.kind, profile=args.profile, zones=zones,
                                     device_id=args.device_id, venue_name=venue[0],
                                     broker_url=args.broker_url, heartbeat_s=heartbeat_s,
                                     keepalive_s=CLASS_KEEPALIVE_S.get(args.device_class))
        record = Device.model_validate({"id": args.device_id, "venue": args.venue,
                                        "zones": [i["zone"] for i in config["inputs"]],
                                        "class": args.device_class})
        add_device(db, record)
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        generation = set_password(db, args.device_id, password)
        meta = {"device_id": args.device_id, "venue": args.venue, "kind": args.kind,
                "profile": args.profile, "broker_url": args.broker_url,
                "credentials_generation": generation, "provisioned_at": iso(utcnow())}
        target = write_bundle(args.out, config=config, password=password, ca_cert=ca_file,
                              meta=meta, wheels=args.wheel, pip_spec=args.pip_spec)
        del password
        record_cli(db, "device.provision", f"device:{args.device_id}",
                   {"venue": args.venue, "generation": generation, "out": str(args.out)})
        reload_note = regenerate_and_reload(db, args.broker_dir, pid=args.broker_pid,
                                            command=args.reload_command)
    except (BundleError, RegistryError, BrokerError, TlsError, OSError) as exc:
        return _fail(str(exc))
    except ValueError as exc:  # pydantic's ValidationError for the registry record
        return _fail(f"device record: {exc}")
    verb = "provisioned" if generation == 1 else f"re-provisioned (credentials rotated, " \
        f"generation {generation}; the old password stops working at the broker reload)"
    print(f"device {args.device_id} {verb}\n  bundle: {target}\n  zones: "
          f"{', '.join(i['zone'] + '=GPIO' + str(i['pin']) for i in config['inputs'])}\n"
          f"  {reload_note}")
    if args.try_local:
        return _try(args.out, argparse.Namespace(walk=False, interactive=True, live=False,
                                                 state_dir=None, drain_timeout=30.0))
    print(f"  try it on this PC: alarmlink provision try-local --bundle {args.out} --walk")
    return 0


def cmd_try_local(args: argparse.Namespace) -> int:
    return _try(args.bundle, args)


def _try(bundle: Path, args: argparse.Namespace) -> int:
    from alarmlink_tools.bundle_try import TryError, try_local

    try:
        return try_local(bundle, args)
    except TryError as exc:
        return _fail(str(exc))


def cmd_revoke(args: argparse.Namespace) -> int:
    from central.audit import record_cli
    from central.credentials import regenerate_and_reload, revoke
    from central.db import open_db

    db = open_db(args.central_db)
    if not revoke(db, args.device_id, args.actor):
        return _fail(f"device {args.device_id!r} has no active credentials")
    record_cli(db, "device.revoke", f"device:{args.device_id}", {"actor": args.actor})
    try:
        note = regenerate_and_reload(db, args.broker_dir, pid=args.broker_pid,
                                     command=args.reload_command)
    except (BrokerError, TlsError, OSError) as exc:
        return _fail(f"revoked in the db, but the broker was not updated: {exc}")
    print(f"device {args.device_id} revoked\n  {note}")
    return 0


def _http(url: str, method: str, body: dict[str, Any] | None = None,
          headers: dict[str, str] | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=15) as resp:
        payload: bytes = resp.read()
        return payload


def _login(central_url: str, username: str | None, password_file: Path | None
           ) -> dict[str, str]:
    """Log in to central; the headers (session cookie, X-CSRF-Token) for the next calls."""
    if not username or password_file is None:
        raise ValueError("--central-url needs --username and --password-file (your central "
                         "user, e.g. an installer account)")
    try:
        password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"cannot read {password_file}: {exc.strerror}") from None
    req = urllib.request.Request(f"{central_url.rstrip('/')}/api/login", method="POST",
                                 data=json.dumps({"username": username,
                                                  "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=15) as resp:
        answer = json.loads(resp.read())
        cookies = [c.split(";", 1)[0] for c in resp.headers.get_all("set-cookie") or []]
    session = next(c for c in cookies if c.startswith("alarmlink_session="))
    return {"Cookie": session, "X-CSRF-Token": answer["csrf_token"]}


def cmd_commission(args: argparse.Namespace) -> int:
    try:
        if args.central_url:
            return _commission_http(args)
        return _commission_db(args)
    except urllib.error.HTTPError as exc:
        return _fail(f"central answered {exc.code}: {exc.read().decode(errors='replace')}")
    except urllib.error.URLError as exc:
        return _fail(f"cannot reach central at {args.central_url}: {exc.reason}; is `alarmlink "
                     "central serve` running, and is --central-url right?")
    except (OSError, ValueError) as exc:
        return _fail(str(exc))


def _commission_http(args: argparse.Namespace) -> int:
    headers = _login(args.central_url, args.username, args.password_file)
    base = f"{args.central_url.rstrip('/')}/api/devices/{args.device}/commissioning"
    if args.action in ("start", "stop") or getattr(args, "stop", False):
        body: dict[str, Any] = {"action": "stop" if args.action != "start" else "start",
                                "installer": getattr(args, "installer", "")}
        if args.action == "start":
            body.update(reason=args.reason, duration_s=args.duration_s)
        _http(base, "POST", body, headers)
    if args.action == "report":
        args.out.write_bytes(_http(f"{base}/report", "GET", None, headers))
        view = json.loads(_http(base, "GET", None, headers))
        missing = [z["zone"] for z in view.get("zones", []) if not z.get("tested")]
        print(f"report written: {args.out}" + (f" (NOT tested: {', '.join(missing)})"
                                               if missing else " (all zones tested)"))
    else:
        print(f"device {args.device}: commissioning {args.action}")
    return 0


def _commission_db(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from central import commissioning
    from central.audit import record_cli
    from central.db import open_db

    db = open_db(args.central_db)
    now = utcnow()
    try:
        if args.action == "start":
            commissioning.start(db, args.device, args.actor, now, installer=args.installer,
                                reason=args.reason, duration=timedelta(seconds=args.duration_s))
            record_cli(db, "commissioning.start", f"device:{args.device}",
                       {"reason": args.reason, "duration_s": args.duration_s})
        elif args.action == "stop" or args.stop:
            commissioning.stop(db, args.device, args.actor, now)
            record_cli(db, "commissioning.stop", f"device:{args.device}")
        if args.action == "report":
            view = commissioning.session_view(db, args.device)
            args.out.write_text(commissioning.render_report(view, now))
            missing = [z["zone"] for z in view["zones"] if not z["tested"]]
            print(f"report written: {args.out}" + (f" (NOT tested: {', '.join(missing)})"
                                                   if missing else " (all zones tested)"))
            return 0
    except commissioning.CommissioningError as exc:
        return _fail(str(exc))
    print(f"device {args.device}: commissioning {args.action}")
    return 0
