"""Registry: load from TOML (idempotent, strict), CLI editing."""

from __future__ import annotations

import json
from pathlib import Path

import both_backends
import pytest
from central_testkit import DEMO_REGISTRY
from sqlite_utils import Database

from alarmlink_tools.cli import main
from central.registry import RegistryError, device_route, list_registry, load_registry

# the library's tests here run on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend, empty_db = both_backends.backend, both_backends.empty_db


def test_demo_registry_loads_and_routes(empty_db: Database) -> None:
    db = empty_db
    counts = load_registry(db, DEMO_REGISTRY)
    assert counts == {"cities": 1, "counties": 1, "stations": 2, "offices": 1, "venues": 3,
                      "devices": 3}
    route = device_route(db, "village-01")
    assert route is not None and route["station_id"] == "dading"
    assert "gate-button" in (device_route(db, "school-01") or {})["zones"]
    assert device_route(db, "nobody") is None


def test_load_is_idempotent(empty_db: Database) -> None:
    db = empty_db
    load_registry(db, DEMO_REGISTRY)
    before = list_registry(db)
    load_registry(db, DEMO_REGISTRY)
    assert list_registry(db) == before


def test_misspelt_key_is_named(empty_db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[counties]]\nid = "c"\nname = "C"\n'
                   '[[venues]]\nid = "v"\nname = "V"\nkind = "school"\nstaton = "s"\n')
    with pytest.raises(RegistryError) as err:
        load_registry(empty_db, bad)
    assert "venues[0].staton: unknown key (did you mean 'station'?)" in str(err.value)
    assert "venues[0].station: required key missing" in str(err.value)


def test_bad_kind_and_unknown_reference(empty_db: Database, tmp_path: Path) -> None:
    db = empty_db
    bad_kind = tmp_path / "kind.toml"
    bad_kind.write_text('[[venues]]\nid = "v"\nname = "V"\nkind = "mall"\nstation = "s"\n')
    with pytest.raises(RegistryError, match=r"venues\[0\]\.kind: Input should be 'school'"):
        load_registry(db, bad_kind)
    dangling = tmp_path / "dangling.toml"
    dangling.write_text('[[venues]]\nid = "v"\nname = "V"\nkind = "hotel"\nstation = "nope"\n')
    with pytest.raises(RegistryError, match=r"venues\[v\].station: 'nope' is not a known station"):
        load_registry(db, dangling)
    assert db.execute("SELECT count(*) FROM venues").fetchone()[0] == 0


def test_cli_edits_the_registry(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(db_path)]
    assert main(["central", "registry", "add-county", "--id", "tiane", "--name", "Tian'e",
                 *db]) == 0
    assert main(["central", "registry", "add-station", "--id", "bala", "--name", "Bala",
                 "--county", "tiane", *db]) == 0
    assert main(["central", "registry", "add-venue", "--id", "inn-7", "--name", "Inn 7",
                 "--kind", "hotel", "--station", "bala", *db]) == 0
    assert main(["central", "registry", "add-device", "--id", "inn-7-pi", "--venue", "inn-7",
                 "--zones", "lobby-button, hall-smoke", *db]) == 0
    assert main(["central", "registry", "add-device", "--id", "x", "--venue", "ghost",
                 *db]) == 2
    assert "devices[x].venue: 'ghost' is not a known venue" in capsys.readouterr().err
    assert main(["central", "registry", "list", *db]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["devices"] == [{"id": "inn-7-pi", "venue_id": "inn-7",
                                  "zones": ["lobby-button", "hall-smoke"]}]


def test_cli_load(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["central", "registry", "load", str(DEMO_REGISTRY), "--db", str(db_path)]) == 0
    assert "3 venues" in capsys.readouterr().out
