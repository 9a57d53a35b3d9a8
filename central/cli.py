"""``alarmlink central ...``: serve, registry administration, incidents, dead letters.

Every listing calls the same library function as the API (no SQL here).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from alarmlink.config_base import ConfigError, describe_errors
from alarmlink.logsetup import FORMATS, configure, uvicorn_log_config
from central import dead_letters, incidents
from central.audit import record_cli
from central.auth.users import any_users
from central.config import CentralConfig, load_config
from central.db import open_db
from central.db.backend import db_target, is_postgresql, open_database
from central.db.pg_migrate import PgError
from central.interpreter import tune_for_latency
from central.registry import (
    City,
    County,
    Device,
    Office,
    RegistryError,
    Station,
    Venue,
    add_city,
    add_county,
    add_device,
    add_office,
    add_station,
    add_venue,
    list_registry,
    load_registry,
    parse_registry,
)

logger = logging.getLogger(__name__)

#: How to create the first admin (printed by serve on a central with no users).
FIRST_ADMIN = "alarmlink central user add --db {db} --username admin --role admin --node root"


def add_central_commands(sub: Any, name: str, help_text: str) -> None:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    commands = parser.add_subparsers(dest="central_command", metavar="COMMAND")
    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])

    serve = commands.add_parser("serve", help="run the dispatch server (MQTT ingest, API, "
                                "console)")
    serve.add_argument("--config", type=Path, help="central TOML config file")
    _db_arg(serve, required=False)
    serve.add_argument("--broker-url", help="e.g. mqtt://127.0.0.1:1883")
    serve.add_argument("--username", help="MQTT user name")
    serve.add_argument("--password-file", type=Path, help="file holding the MQTT password")
    serve.add_argument("--protocol", choices=["mqttv5", "mqttv311"])
    serve.add_argument("--host", help="HTTP listen address")
    serve.add_argument("--port", type=int, help="HTTP port")
    serve.add_argument("--registry", type=Path, help="registry TOML to load at start")
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True,
                       help="log every HTTP request (default on; --no-access-log for quiet)")
    serve.add_argument("--log-format", choices=FORMATS, dest="serve_log_format",
                       help="text or json (one JSON object per line, for journald and log "
                            "shippers); also `alarmlink --log-format json central serve`")
    serve.set_defaults(func=cmd_serve)

    registry = commands.add_parser("registry", help="cities, counties, stations, police "
                                   "offices, venues, devices")
    reg = registry.add_subparsers(dest="registry_command", metavar="COMMAND")
    registry.set_defaults(func=lambda _args: (registry.print_help(), 2)[1])

    load = reg.add_parser("load", help="upsert everything in a registry TOML file")
    load.add_argument("file", type=Path)
    _db_arg(load)
    load.set_defaults(func=_guard(cmd_registry_load))

    city = reg.add_parser("add-city", help="add or update a city bureau (above counties)")
    city.add_argument("--id", required=True)
    city.add_argument("--name", required=True)
    _db_arg(city)
    city.set_defaults(func=lambda a: _add(a, City, add_city, ["id", "name"]))

    county = reg.add_parser("add-county", help="add or update a county bureau")
    county.add_argument("--id", required=True)
    county.add_argument("--name", required=True)
    county.add_argument("--city", help="id of the city bureau above it (optional)")
    _db_arg(county)
    county.set_defaults(func=lambda a: _add(a, County, add_county, ["id", "name", "city"]))

    station = reg.add_parser("add-station", help="add or update a police station")
    station.add_argument("--id", required=True)
    station.add_argument("--name", required=True)
    station.add_argument("--county", required=True)
    station.add_argument("--phone", default="")
    _db_arg(station)
    station.set_defaults(func=lambda a: _add(a, Station, add_station,
                                             ["id", "name", "county", "phone"]))

    office = reg.add_parser("add-office", help="add or update a police office (警务室) of a "
                            "station")
    office.add_argument("--id", required=True)
    office.add_argument("--name", required=True)
    office.add_argument("--station", required=True)
    _db_arg(office)
    office.set_defaults(func=lambda a: _add(a, Office, add_office, ["id", "name", "station"]))

    venue = reg.add_parser("add-venue", help="add or update a venue")
    venue.add_argument("--id", required=True)
    venue.add_argument("--name", required=True)
    venue.add_argument("--kind", required=True, choices=["school", "hotel", "village"])
    venue.add_argument("--address", default="")
    venue.add_argument("--station", required=True)
    venue.add_argument("--office", help="id of the station's police office looking after it "
                       "(optional)")
    _db_arg(venue)
    venue.set_defaults(func=lambda a: _add(a, Venue, add_venue,
                                           ["id", "name", "kind", "address", "station",
                                            "office"]))

    device = reg.add_parser("add-device", help="add or update a venue device")
    device.add_argument("--id", required=True)
    device.add_argument("--venue", required=True)
    device.add_argument("--zones", default="", help="comma-separated zone names")
    device.add_argument("--class", dest="device_class", default="",
                        help="supervision class, e.g. fast (default: central's default_class)")
    device.add_argument("--dc09-account", dest="dc09_account", default=None,
                        help="SIA DC-09 account of a panel reporting to central's IP receiver")
    _db_arg(device)
    device.set_defaults(func=cmd_add_device)

    listing = reg.add_parser("list", help="print the registry as JSON")
    _db_arg(listing)
    listing.set_defaults(func=_guard(cmd_registry_list))

    show = reg.add_parser("show", help="print the registry as a tree: county, station, "
                          "office, venue, device")
    _db_arg(show)
    show.set_defaults(func=_guard(cmd_registry_show))

    listed = commands.add_parser("incidents", help="print incidents as JSON, newest first "
                                 "(as GET /api/incidents)")
    _db_arg(listed)
    listed.add_argument("--all", action="store_true", help="closed ones too (default: open)")
    listed.add_argument("--station", help="only this station's incidents")
    listed.add_argument("--limit", type=int, default=200)
    listed.set_defaults(func=_guard(cmd_incidents))

    dead = commands.add_parser("dead-letters", help="list rejected messages, newest first")
    _db_arg(dead)
    dead.add_argument("--limit", type=int, default=50)
    dead.add_argument("--counts", action="store_true",
                      help="per device: received, not stored (over budget), deleted (cap/age)")
    dead.set_defaults(func=_guard(cmd_dead_letters))

    from central.broker_cli import add_broker_config_command
    from central.user_cli import add_user_commands

    add_broker_config_command(commands)
    from central.init_cli import add_init_command

    add_init_command(commands)
    add_user_commands(commands)

    from central.audit_cli import add_audit_commands

    add_audit_commands(commands)
    from central.escalation_cli import add_escalation_commands

    add_escalation_commands(commands)
    from central.pg_cli import add_pg_commands

    add_pg_commands(commands)
    from central.ingest_worker import add_ingest_worker_command

    add_ingest_worker_command(commands)


def _guard(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except MissingDatabase as exc:
            return _fail(str(exc))

    return run


def _db_arg(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--db", type=db_target, required=required,
                        help="central's SQLite database file, or a postgresql:// URL")


def _fail(message: str) -> int:
    print(f"alarmlink central: {message}", file=sys.stderr)
    return 2


class MissingDatabase(Exception):
    """--db names no file (a typo would otherwise create an empty database)."""


def existing_db(path: Path | str) -> Any:
    """Open a database that must exist already (a file, or a reachable PostgreSQL URL)."""
    if is_postgresql(path):
        return open_target(path)
    assert isinstance(path, Path)
    if not path.is_file():
        raise MissingDatabase(f"no database at {path}: check --db (`alarmlink central init "
                              "DIR` creates DIR/central.db)")
    return open_db(path)


def open_target(target: Path | str) -> Any:
    """Open (and migrate) ``--db``: a SQLite file, created when new, or PostgreSQL."""
    try:
        return open_database(target)
    except PgError as exc:
        raise MissingDatabase(str(exc)) from None


def build_config(args: argparse.Namespace) -> CentralConfig:
    """The config file (if any) with command-line flags on top."""
    config = load_config(args.config) if args.config else CentralConfig()
    top: dict[str, Any] = {}
    broker: dict[str, Any] = {}
    http: dict[str, Any] = {}
    if args.db:
        top["database_url" if is_postgresql(args.db) else "db"] = args.db
    if args.registry:
        top["registry"] = args.registry
    for flag, key in (("broker_url", "url"), ("username", "username"),
                      ("password_file", "password_file"), ("protocol", "protocol")):
        if getattr(args, flag):
            broker[key] = getattr(args, flag)
    if args.password_file:
        broker["password"] = None
    for flag in ("host", "port"):
        if getattr(args, flag) is not None:
            http[flag] = getattr(args, flag)
    data = config.model_dump()
    data.update(top)
    data["broker"].update(broker)
    data["http"].update(http)
    if isinstance(data["broker"].get("password"), SecretStr):
        data["broker"]["password"] = data["broker"]["password"].get_secret_value()
    try:
        return CentralConfig.model_validate(data)
    except ValidationError as exc:
        lines = describe_errors(exc, CentralConfig)
        raise ConfigError([f"command line: {line}" for line in lines]) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from central.api import create_app
    from central.http_tls import tls_options
    from central.receiver.keys import KeyFileError, load_keys

    try:
        config = build_config(args)
        if config.registry is not None:
            parse_registry(config.registry)  # fail here, before the server starts
        if config.receiver.enabled and config.receiver.keys_file is not None:
            load_keys(config.receiver.keys_file)  # a bad or readable key file: fail now
        certfile, keyfile = tls_options(config.http)
        app = create_app(config)
    except (ConfigError, RegistryError, KeyFileError) as exc:
        return _fail(str(exc))
    from central.db.backend import open_database
    from central.db.pg_migrate import PgError, redact

    try:
        db = open_database(config.db_target)
    except PgError as exc:
        return _fail(str(exc))
    print(f"alarmlink central: console at {config.http.scheme}://{config.http.host}:"
          f"{config.http.port}/ "
          f"(db {redact(str(config.db_target))}, broker {config.broker.url})", flush=True)
    try:
        have_users = any_users(db)
    finally:
        db.close()
    if not have_users:
        print(f"alarmlink central: no users yet: create the first admin with "
              f"`{FIRST_ADMIN.format(db=redact(str(config.db_target)))}`", flush=True)
    if args.serve_log_format:
        configure(logging.getLogger().getEffectiveLevel(), args.serve_log_format)
    for name in ("central", "alarmlink"):  # a service logs its life
        if logging.getLogger(name).getEffectiveLevel() > logging.INFO:
            logging.getLogger(name).setLevel(logging.INFO)
    # Central's threads (paho's, the writer, the event loop) share one GIL: a 1 ms switch
    # interval, and the start-up heap frozen so full collections stay short
    tune_for_latency()
    uvicorn.run(app, host=config.http.host, port=config.http.port, log_level="info",
                access_log=args.access_log, log_config=uvicorn_log_config(),
                ssl_certfile=certfile, ssl_keyfile=keyfile)
    return 0


def cmd_registry_load(args: argparse.Namespace) -> int:
    db = open_target(args.db)
    try:
        counts = load_registry(db, args.file)
    except RegistryError as exc:
        return _fail(str(exc))
    record_cli(db, "registry.load", f"registry:{args.file.resolve()}", counts)
    print(", ".join(f"{n} {k}" for k, n in counts.items()) + f" loaded into {args.db}")
    return 0


def _add(args: argparse.Namespace, model: Any, adder: Any, keys: list[str]) -> int:
    try:
        record = model.model_validate({k: getattr(args, k) for k in keys})
        db = open_target(args.db)
        adder(db, record)
    except ValidationError as exc:
        return _fail("; ".join(describe_errors(exc, model)))
    except (RegistryError, MissingDatabase) as exc:
        return _fail(str(exc))
    noun = model.__name__.lower()
    record_cli(db, f"registry.add-{noun}", f"{noun}:{record.id}",
               record.model_dump(mode="json", by_alias=True))
    print(f"{model.__name__.lower()} {record.id} saved")
    return 0


def cmd_add_device(args: argparse.Namespace) -> int:
    args.zones = [z.strip() for z in args.zones.split(",") if z.strip()]
    return _add(args, Device, add_device, ["id", "venue", "zones", "device_class",
                                           "dc09_account"])


def cmd_registry_list(args: argparse.Namespace) -> int:
    print(json.dumps(list_registry(existing_db(args.db)), indent=2, ensure_ascii=False))
    return 0


def cmd_registry_show(args: argparse.Namespace) -> int:
    from central.registry_tree import render_tree

    print(render_tree(list_registry(existing_db(args.db))))
    return 0


def cmd_incidents(args: argparse.Namespace) -> int:
    found = incidents.list_incidents(existing_db(args.db), station=args.station,
                                     open_only=not args.all, limit=args.limit)
    print(json.dumps(found, indent=2, ensure_ascii=False))
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    if args.counts:
        counts = dead_letters.counts(existing_db(args.db))
        if not counts:
            print("no dead letters counted")
        for c in counts:
            print(f"{c['device']}: received {c['received']}, not stored {c['not_stored']} "
                  f"(over budget), deleted {c['deleted']} (cap or age); last {c['last_at']}")
        return 0
    rows = dead_letters.list_dead_letters(existing_db(args.db), args.limit)
    if not rows:
        print("no dead letters")
    for row in rows:
        print(f"#{row['id']} {row['received_at']} {row['topic']} ({row['payload_size']} bytes)\n"
              f"    reason: {row['reason']}\n    payload: {row['payload_preview'][:200]!r}")
    return 0
