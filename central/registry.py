"""The registry: counties, police stations, venues and venue devices.

A TOML file describes them (see ``central/demo_registry.toml``)::

    [[counties]]
    id = "duan"
    name = "Du'an County Public Security Bureau"

    [[stations]]
    id = "duan-chengxiang"
    name = "Chengxiang Police Station"
    county = "duan"

    [[venues]]
    id = "school-01"
    name = "Chengxiang Central Primary School"
    kind = "school"            # school | hotel | village
    address = "1 School Road"
    station = "duan-chengxiang"

    [[devices]]
    id = "school-01"           # the MQTT user name and topic id of the edge agent
    venue = "school-01"
    zones = ["gate-button", "dorm-2f-smoke"]
    class = "fast"             # supervision class; optional (central's default_class)

Loading upserts: loading the same file twice changes nothing, and records
missing from a file are kept (nothing is deleted by a load).
"""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationError
from sqlite_utils import Database

from alarmlink.config_base import StrictModel, describe_errors
from alarmlink.wire import DEVICE_ID_PATTERN, Zone
from central.db import OPEN_STATUSES, query_one, write_tx

logger = logging.getLogger(__name__)

RecordId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
VenueKind = Literal["school", "hotel", "village"]


class RegistryError(ValueError):
    """A registry file or record that cannot be loaded. ``str()`` names the key."""


class _Record(StrictModel):
    """Unknown keys are errors."""


class County(_Record):
    id: RecordId = Field(description="Short id, lower case, e.g. 'duan'.")
    name: Name


class Station(_Record):
    id: RecordId
    name: Name
    county: RecordId = Field(description="Id of the county bureau the station belongs to.")
    phone: Annotated[str, StringConstraints(max_length=40)] = ""


class Venue(_Record):
    id: RecordId
    name: Name
    kind: VenueKind
    address: Annotated[str, StringConstraints(max_length=300)] = ""
    station: RecordId = Field(description="Id of the police station responsible for the venue.")


class Device(_Record):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)] = Field(
        description="Device id: its MQTT user name and the id in its topics.")
    venue: RecordId
    zones: list[Zone] = Field(default_factory=list, description="Zones the device reports.")
    device_class: Annotated[str, StringConstraints(pattern=r"^([a-z0-9][a-z0-9_-]{0,31})?$")] = \
        Field("", alias="class", description="Supervision class (central config "
                                             "[supervision.classes]); empty = the default.")


class RegistryFile(_Record):
    counties: list[County] = Field(default_factory=list)
    stations: list[Station] = Field(default_factory=list)
    venues: list[Venue] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)


def parse_registry(path: Path) -> RegistryFile:
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from None
    try:
        return RegistryFile.model_validate(raw)
    except ValidationError as exc:
        lines = describe_errors(exc, RegistryFile, data=raw)
        raise RegistryError(f"{path}: " + "; ".join(lines)) from None


def load_registry(db: Database, path: Path) -> dict[str, int]:
    """Validate ``path`` and upsert everything in it, in one transaction.

    Returns the number of records of each type in the file.
    """
    reg = parse_registry(path)
    try:
        with write_tx(db):
            for county in reg.counties:
                add_county(db, county)
            for station in reg.stations:
                add_station(db, station)
            for venue in reg.venues:
                add_venue(db, venue)
            for device in reg.devices:
                add_device(db, device)
    except RegistryError as exc:
        raise RegistryError(f"{path}: {exc}") from None
    counts = {"counties": len(reg.counties), "stations": len(reg.stations),
              "venues": len(reg.venues), "devices": len(reg.devices)}
    logger.info("registry %s loaded: %s", path, counts)
    return counts


_NOUNS = {"counties": "county", "stations": "station", "venues": "venue"}


def _require(db: Database, table: str, key: str, value: str) -> None:
    if query_one(db, f"SELECT id FROM {table} WHERE id = ?", [value]) is None:
        raise RegistryError(f"{key}: {value!r} is not a known {_NOUNS[table]}")


def _upsert(db: Database, table: str, row: dict[str, Any]) -> None:
    columns = list(row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    db.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
        [row[c] for c in columns],
    )


def add_county(db: Database, county: County) -> None:
    with write_tx(db):
        _upsert(db, "counties", {"id": county.id, "name": county.name})


def add_station(db: Database, station: Station) -> None:
    with write_tx(db):
        _require(db, "counties", f"stations[{station.id}].county", station.county)
        _upsert(db, "stations", {"id": station.id, "name": station.name,
                                 "county_id": station.county, "phone": station.phone})


def add_venue(db: Database, venue: Venue) -> None:
    with write_tx(db):
        _require(db, "stations", f"venues[{venue.id}].station", venue.station)
        _upsert(db, "venues", {"id": venue.id, "name": venue.name, "kind": venue.kind,
                               "address": venue.address, "station_id": venue.station})


def add_device(db: Database, device: Device) -> None:
    with write_tx(db):
        _require(db, "venues", f"devices[{device.id}].venue", device.venue)
        _upsert(db, "devices", {"id": device.id, "venue_id": device.venue,
                                "zones": json.dumps(device.zones),
                                "device_class": device.device_class})


def list_registry(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Everything in the registry, for ``registry list``."""
    return {
        "counties": list(db.query("SELECT id, name FROM counties ORDER BY id")),
        "stations": list(db.query(
            "SELECT id, name, county_id, phone FROM stations ORDER BY id")),
        "venues": list(db.query(
            "SELECT id, name, kind, address, station_id FROM venues ORDER BY id")),
        "devices": [
            {**row, "zones": json.loads(row["zones"])}
            for row in db.query("SELECT id, venue_id, zones FROM devices ORDER BY id")
        ],
    }


def list_stations(db: Database) -> list[dict[str, Any]]:
    """Every station with its county, number of venues and open incidents (``/api/stations``)."""
    open_list = ", ".join(f"'{status}'" for status in OPEN_STATUSES)
    return list(db.query(
        "SELECT s.id, s.name, s.county_id, c.name AS county_name, s.phone, "
        "(SELECT count(*) FROM venues v WHERE v.station_id = s.id) AS venues, "
        "(SELECT count(*) FROM incidents i WHERE i.station_id = s.id AND "
        f"i.status IN ({open_list})) AS open_incidents "
        "FROM stations s JOIN counties c ON c.id = s.county_id ORDER BY s.id"))


def list_devices(db: Database, station: str | None = None) -> list[dict[str, Any]]:
    """Every device (or one station's) with its venue and last reported state, by id."""
    rows = db.query(
        "SELECT d.id AS device_id, d.venue_id, v.name AS venue_name, v.station_id, d.zones, "
        "s.availability, s.last_seen, s.last_heartbeat, s.clock_offset_s, "
        "coalesce(s.boot_id, '') AS boot_id, coalesce(s.version, '') AS version, "
        "coalesce(s.config_hash, '') AS config_hash, s.outbox_depth "
        "FROM devices d JOIN venues v ON v.id = d.venue_id "
        "LEFT JOIN device_state s ON s.device_id = d.id "
        "WHERE ? IS NULL OR v.station_id = ? ORDER BY d.id", [station, station])
    return [{**row, "zones": json.loads(row["zones"])} for row in rows]


def device_route(db: Database, device_id: str) -> dict[str, Any] | None:
    """``{device_id, venue_id, station_id, zones}`` of a registered device, or None."""
    row = query_one(
        db, "SELECT d.id AS device_id, d.venue_id, v.station_id, d.zones FROM devices d "
        "JOIN venues v ON v.id = d.venue_id WHERE d.id = ?", [device_id])
    if row is None:
        return None
    return {**row, "zones": json.loads(row["zones"])}
