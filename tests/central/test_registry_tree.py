"""The organisation tree: cities above counties, police offices below stations, and scope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import both_backends
import pytest
from sqlite_utils import Database

from alarmlink_tools.cli import main
from central.auth.principal import resolve_scope
from central.db.backend import open_database
from central.registry import RegistryError, list_registry, load_registry

TREE = """
[[cities]]
id = "hechi"
name = "河池市公安局"

[[counties]]
id = "duan"
name = "都安瑶族自治县公安局"
city = "hechi"

[[counties]]
id = "bama"
name = "巴马瑶族自治县公安局"
city = "hechi"

[[counties]]
id = "loose"
name = "No city"

[[stations]]
id = "chengxiang"
name = "城厢派出所"
county = "duan"

[[stations]]
id = "dading"
name = "大定派出所"
county = "duan"

[[stations]]
id = "bama-town"
name = "巴马镇派出所"
county = "bama"

[[stations]]
id = "loose-town"
name = "Loose"
county = "loose"

[[offices]]
id = "xuefu"
name = "学府路警务室"
station = "chengxiang"

[[venues]]
id = "school-01"
name = "城厢中心小学"
kind = "school"
station = "chengxiang"
office = "xuefu"

[[venues]]
id = "hotel-01"
name = "江滨酒店"
kind = "hotel"
station = "chengxiang"

[[venues]]
id = "village-01"
name = "大定村"
kind = "village"
station = "dading"
"""


backend, db_target = both_backends.backend, both_backends.db_target


@pytest.fixture
def tree(db_target: Path | str, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "tree.toml"
    path.write_text(TREE, encoding="utf-8")
    db = open_database(db_target)
    load_registry(db, path)
    yield db
    db.close()


def _load(db: Database, tmp_path: Path, text: str) -> None:
    path = tmp_path / "extra.toml"
    path.write_text(text, encoding="utf-8")
    load_registry(db, path)


def test_the_tree_loads_and_lists(tree: Database) -> None:
    listed = list_registry(tree)
    assert listed["cities"] == [{"id": "hechi", "name": "河池市公安局"}]
    assert {c["id"]: c["city_id"] for c in listed["counties"]} == {
        "bama": "hechi", "duan": "hechi", "loose": None}
    assert listed["offices"] == [{"id": "xuefu", "name": "学府路警务室",
                                  "station_id": "chengxiang"}]
    assert {v["id"]: v["office_id"] for v in listed["venues"]} == {
        "hotel-01": None, "school-01": "xuefu", "village-01": None}


@pytest.mark.parametrize(("kind", "node", "stations", "venues"), [
    ("root", "", None, None),
    ("city", "hechi", {"chengxiang", "dading", "bama-town"}, None),
    ("city", "elsewhere", set(), None),
    ("county", "duan", {"chengxiang", "dading"}, None),
    ("county", "loose", {"loose-town"}, None),
    ("station", "dading", {"dading"}, None),
    ("office", "xuefu", {"chengxiang"}, {"school-01"}),
])
def test_resolve_scope_for_every_node_kind(tree: Database, kind: str, node: str,
                                           stations: set[str] | None,
                                           venues: set[str] | None) -> None:
    got_stations, got_venues = resolve_scope(tree, kind, node)
    assert got_stations == (None if stations is None else frozenset(stations))
    assert got_venues == (None if venues is None else frozenset(venues))


@pytest.mark.parametrize(("text", "key", "command"), [
    ('[[counties]]\nid = "c"\nname = "C"\ncity = "nocity"\n', "counties[c].city: 'nocity' "
     "is not a known city", "alarmlink central registry add-city --id nocity"),
    ('[[offices]]\nid = "o"\nname = "O"\nstation = "nostation"\n', "offices[o].station: "
     "'nostation' is not a known station", "alarmlink central registry add-station --id "
     "nostation"),
    ('[[venues]]\nid = "v"\nname = "V"\nkind = "hotel"\nstation = "dading"\n'
     'office = "nooffice"\n', "venues[v].office: 'nooffice' is not a known police office",
     "alarmlink central registry add-office --id nooffice"),
])
def test_a_missing_parent_is_named_with_the_command_that_creates_it(
        tree: Database, tmp_path: Path, text: str, key: str, command: str) -> None:
    with pytest.raises(RegistryError) as err:
        _load(tree, tmp_path, text)
    assert key in str(err.value) and command in str(err.value)


def test_a_venue_office_must_belong_to_its_station(tree: Database, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"venues\[village-01\]\.office: police office "
                       r"'xuefu' belongs to station 'chengxiang', not to the venue's station "
                       r"'dading'"):
        _load(tree, tmp_path, '[[venues]]\nid = "village-01"\nname = "V"\nkind = "village"\n'
                              'station = "dading"\noffice = "xuefu"\n')
    assert tree.execute("SELECT office_id FROM venues WHERE id = 'village-01'").fetchone() == (
        None,)


def test_cli_adds_a_city_and_an_office(db_target: Path | str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(db_target)]
    reg = ["central", "registry"]
    assert main([*reg, "add-county", "--id", "duan", "--name", "都安", "--city", "hechi",
                 *db]) == 2
    err = capsys.readouterr().err
    assert "'hechi' is not a known city" in err and "add-city --id hechi" in err
    assert main([*reg, "add-city", "--id", "hechi", "--name", "河池市公安局", *db]) == 0
    assert main([*reg, "add-county", "--id", "duan", "--name", "都安", "--city", "hechi",
                 *db]) == 0
    assert main([*reg, "add-station", "--id", "cx", "--name", "城厢派出所", "--county", "duan",
                 *db]) == 0
    assert main([*reg, "add-office", "--id", "xuefu", "--name", "学府路警务室", "--station",
                 "cx", *db]) == 0
    assert main([*reg, "add-venue", "--id", "s1", "--name", "小学", "--kind", "school",
                 "--station", "cx", "--office", "xuefu", *db]) == 0
    capsys.readouterr()
    assert main([*reg, "list", *db]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["cities"][0]["name"] == "河池市公安局"
    assert listed["offices"][0]["station_id"] == "cx"
    assert listed["venues"][0]["office_id"] == "xuefu"
    acts = [r[0] for r in open_database(db_target).execute(
        "SELECT action FROM audit_log ORDER BY id").fetchall()]
    assert acts == ["registry.add-city", "registry.add-county", "registry.add-station",
                    "registry.add-office", "registry.add-venue"]
