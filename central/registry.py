"""The registry: the organisation tree (cities, counties, police stations, police
offices), venues and venue devices.

The tree is city → county → station → (police office) → venue. Cities and
offices are optional: a county may have no ``city``, a venue no ``office``.
A TOML file describes them (see ``central/demo_registry.toml``; the models
are in :mod:`central.registry_models`)::

    [[cities]]
    id = "sanming"
    name = "三明市公安局"

    [[counties]]
    id = "duan"
    name = "Du'an County Public Security Bureau"
    city = "sanming"           # optional

    [[stations]]
    id = "duan-chengxiang"
    name = "Chengxiang Police Station"
    county = "duan"

    [[offices]]                # police office (警务室) under a station
    id = "chengxiang-xuefu"
    name = "学府警务室"
    station = "duan-chengxiang"

    [[venues]]
    id = "school-01"
    name = "Chengxiang Central Primary School"
    kind = "school"            # school | hotel | village
    address = "1 School Road"
    station = "duan-chengxiang"
    office = "chengxiang-xuefu"   # optional; must be an office of the venue's station
    av_max_kbps = 500          # optional: cap on its live video (kbit/s) over a thin uplink
    av_max_height = 360        # optional: cap on its live video's height (pixels)

    [[devices]]
    id = "school-01"           # the MQTT user name and topic id of the edge agent
    venue = "school-01"
    zones = ["gate-button", "dorm-2f-smoke"]
    class = "fast"             # supervision class; optional (central's default_class)

    [[devices]]                # a panel with its own IP communicator, no Pi
    id = "school-01-panel"
    venue = "school-01"
    dc09_account = "1234"      # SIA DC-09 account (central's [receiver]); its class
    class = "fast"             # gives the link-test supervision interval

Loading upserts: loading the same file twice changes nothing, and records
missing from a file are kept (nothing is deleted by a load).
"""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlite_utils import Database

from alarmlink.config_base import describe_errors
from central.db import OPEN_STATUSES, query_one, write_tx
from central.registry_models import (
    City,
    County,
    Device,
    Office,
    RegistryError,
    RegistryFile,
    Station,
    Venue,
)

__all__ = [
    "City", "County", "Device", "Office", "RegistryError", "RegistryFile", "Station", "Venue",
    "add_city", "add_county", "add_device", "add_office", "add_station", "add_venue",
    "dc09_accounts", "device_route", "list_devices", "list_registry", "list_stations",
    "load_registry", "parse_registry",
]

logger = logging.getLogger(__name__)

#: ``LIMIT`` for "all rows" on both backends (SQLite's ``-1`` is an error on PostgreSQL).
NO_LIMIT = 2**62

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
            for city in reg.cities:
                add_city(db, city)
            for county in reg.counties:
                add_county(db, county)
            for station in reg.stations:
                add_station(db, station)
            for office in reg.offices:
                add_office(db, office)
            for venue in reg.venues:
                add_venue(db, venue)
            for device in reg.devices:
                add_device(db, device)
    except RegistryError as exc:
        raise RegistryError(f"{path}: {exc}") from None
    counts = {"cities": len(reg.cities), "counties": len(reg.counties),
              "stations": len(reg.stations), "offices": len(reg.offices),
              "venues": len(reg.venues), "devices": len(reg.devices)}
    logger.info("registry %s loaded: %s", path, counts)
    return counts


#: table -> (noun, the command that creates one)
_PARENTS = {
    "cities": ("city", "alarmlink central registry add-city --id {id} --name NAME"),
    "counties": ("county", "alarmlink central registry add-county --id {id} --name NAME"),
    "stations": ("station", "alarmlink central registry add-station --id {id} --name NAME "
                 "--county COUNTY"),
    "police_offices": ("police office", "alarmlink central registry add-office --id {id} "
                       "--name NAME --station STATION"),
    "venues": ("venue", "alarmlink central registry add-venue --id {id} --name NAME "
               "--kind KIND --station STATION"),
}


def _require(db: Database, table: str, key: str, value: str) -> None:
    if query_one(db, f"SELECT id FROM {table} WHERE id = ?", [value]) is None:
        noun, command = _PARENTS[table]
        raise RegistryError(f"{key}: {value!r} is not a known {noun}; add it first "
                            f"(a [[{table.removeprefix('police_')}]] entry in the file, or "
                            f"'{command.format(id=value)}')")


def _upsert(db: Database, table: str, row: dict[str, Any]) -> None:
    columns = list(row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    db.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
        [row[c] for c in columns],
    )


def add_city(db: Database, city: City) -> None:
    with write_tx(db):
        _upsert(db, "cities", {"id": city.id, "name": city.name})


def add_county(db: Database, county: County) -> None:
    with write_tx(db):
        if county.city is not None:
            _require(db, "cities", f"counties[{county.id}].city", county.city)
        _upsert(db, "counties", {"id": county.id, "name": county.name, "city_id": county.city,
                                 "outline": json.dumps(county.outline) if county.outline
                                 else None})


def add_office(db: Database, office: Office) -> None:
    with write_tx(db):
        _require(db, "stations", f"offices[{office.id}].station", office.station)
        _upsert(db, "police_offices", {"id": office.id, "name": office.name,
                                       "station_id": office.station})


def add_station(db: Database, station: Station) -> None:
    with write_tx(db):
        _require(db, "counties", f"stations[{station.id}].county", station.county)
        _upsert(db, "stations", {"id": station.id, "name": station.name,
                                 "county_id": station.county, "phone": station.phone})


def add_venue(db: Database, venue: Venue) -> None:
    with write_tx(db):
        _require(db, "stations", f"venues[{venue.id}].station", venue.station)
        if venue.office is not None:
            key = f"venues[{venue.id}].office"
            _require(db, "police_offices", key, venue.office)
            owner = query_one(db, "SELECT station_id FROM police_offices WHERE id = ?",
                              [venue.office])
            if owner is not None and owner["station_id"] != venue.station:
                raise RegistryError(
                    f"{key}: police office {venue.office!r} belongs to station "
                    f"{owner['station_id']!r}, not to the venue's station {venue.station!r}; "
                    "give an office of that station, or leave office out")
        _upsert(db, "venues", {"id": venue.id, "name": venue.name, "kind": venue.kind,
                               "address": venue.address, "station_id": venue.station,
                               "office_id": venue.office, "lat": venue.lat, "lon": venue.lon,
                               "contacts": json.dumps([c.model_dump() for c in venue.contacts],
                                                      ensure_ascii=False),
                               "procedure": json.dumps(venue.procedure, ensure_ascii=False),
                               "av_max_kbps": venue.av_max_kbps,
                               "av_max_height": venue.av_max_height})


def add_device(db: Database, device: Device) -> None:
    with write_tx(db):
        _require(db, "venues", f"devices[{device.id}].venue", device.venue)
        if device.dc09_account is not None:
            owner = query_one(db, "SELECT id FROM devices WHERE dc09_account = ? AND id != ?",
                              [device.dc09_account, device.id])
            if owner is not None:
                raise RegistryError(
                    f"devices[{device.id}].dc09_account: account {device.dc09_account!r} "
                    f"already belongs to device {owner['id']!r}; each panel needs its own")
        _upsert(db, "devices", {"id": device.id, "venue_id": device.venue,
                                "zones": json.dumps(device.zones),
                                "device_class": device.device_class,
                                "dc09_account": device.dc09_account})


def list_registry(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Everything in the registry, for ``registry list``."""
    return {
        "cities": list(db.query("SELECT id, name FROM cities ORDER BY id")),
        "counties": list(db.query("SELECT id, name, city_id FROM counties ORDER BY id")),
        "stations": list(db.query(
            "SELECT id, name, county_id, phone FROM stations ORDER BY id")),
        "offices": list(db.query(
            "SELECT id, name, station_id FROM police_offices ORDER BY id")),
        "venues": list(db.query(
            "SELECT id, name, kind, address, station_id, office_id FROM venues ORDER BY id")),
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


def list_devices(db: Database, station: str | None = None, *, after: str | None = None,
                 limit: int | None = None) -> list[dict[str, Any]]:
    """Every device (or one station's) with its venue and last reported state, by id.

    ``after`` and ``limit`` page it: at most ``limit`` devices whose id sorts after
    ``after`` (keyset paging on the primary key: a page costs the same at any depth).
    """
    rows = db.query(
        "SELECT d.id AS device_id, d.venue_id, v.name AS venue_name, v.station_id, d.zones, "
        "s.availability, s.last_seen, s.last_heartbeat, s.clock_offset_s, "
        "coalesce(s.boot_id, '') AS boot_id, coalesce(s.version, '') AS version, "
        "coalesce(s.config_hash, '') AS config_hash, s.outbox_depth "
        "FROM devices d JOIN venues v ON v.id = d.venue_id "
        "LEFT JOIN device_state s ON s.device_id = d.id "
        "WHERE (? IS NULL OR v.station_id = ?) AND (? IS NULL OR d.id > ?) ORDER BY d.id "
        "LIMIT ?", [station, station, after, after, NO_LIMIT if limit is None else limit])
    return [{**row, "zones": json.loads(row["zones"])} for row in rows]


def dc09_accounts(db: Database) -> dict[str, str]:
    """``{DC-09 account: device id}`` of every panel registered for the IP receiver."""
    return {row["dc09_account"]: row["id"] for row in db.query(
        "SELECT id, dc09_account FROM devices WHERE dc09_account IS NOT NULL")}


_ROUTE_SQL = ("SELECT d.id AS device_id, d.venue_id, v.station_id, d.zones FROM devices d "
              "JOIN venues v ON v.id = d.venue_id WHERE d.id ")


def device_route(db: Database, device_id: str) -> dict[str, Any] | None:
    """``{device_id, venue_id, station_id, zones}`` of a registered device, or None."""
    row = query_one(db, _ROUTE_SQL + "= ?", [device_id])
    if row is None:
        return None
    return {**row, "zones": json.loads(row["zones"])}


def device_routes(db: Database, device_ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """:func:`device_route` of many devices, 500 to a statement (None: not registered)."""
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(device_ids)
    for k in range(0, len(device_ids), 500):
        chunk = device_ids[k:k + 500]
        for row in db.query(_ROUTE_SQL + f"IN ({', '.join('?' for _ in chunk)})", chunk):
            found[row["device_id"]] = {**row, "zones": json.loads(row["zones"])}
    return found
