"""Villages and teams through the API, in process: who sees which village (a village
assistant theirs, a venue manager none), refusals audited, a member edited only through
their own team, and a checklist's versions with the inspections that used each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import both_backends
import pytest
from fixtures.auth import add_user
from management_testkit import START, Central, backend_target, make_villages, management_central

M = "/api/management"
# the management tests here run on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend = both_backends.backend


@pytest.fixture
def central(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Central]:
    with management_central(backend_target(backend, tmp_path, request), tmp_path) as c:
        yield c


def _call(c: Central) -> Any:
    def call(user: str, method: str, path: str, body: Any = None) -> Any:
        return c.ok(user, method, path, json=body)
    return call


def test_each_user_sees_the_villages_of_their_part_of_the_tree(central: Central) -> None:
    made = make_villages(_call(central), central.db_path)
    add_user(central.db_path, "va-02", "village_assistant", "village:v-02")
    seen = {user: [v["id"] for v in central.ok(user, "GET", f"{M}/villages")]  # type: ignore[union-attr]
            for user in ("leader", "va-01", "va-02", "mgr-school", "insp-d")}
    assert seen == {"leader": ["v-01", "v-02"], "va-01": ["v-01"], "va-02": ["v-02"],
                    "mgr-school": [], "insp-d": []}
    assert central.as_user("mgr-school").get(f"{M}/villages/v-01").status_code == 403
    other = made["other"]["id"]
    answer = central.as_user("va-01").put(f"{M}/teams/{other}/members/1",
                                          json={"name": "改名"})
    assert answer.status_code == 403
    [denied] = central.rows("SELECT username, action, object FROM audit_log WHERE result = "
                            "'denied' ORDER BY id DESC LIMIT 1")
    assert denied == ("va-01", "team.manage", "village:v-02")
    # a member of v-01's team, addressed through v-02's team: not found, unchanged
    members = central.ok("leader", "GET", f"{M}/villages/v-01")["teams"][0]["members"]  # type: ignore[index]
    wrong = central.as_user("leader").delete(f"{M}/teams/{other}/members/{members[0]['id']}")
    assert wrong.status_code == 404
    assert len(central.ok("leader", "GET", f"{M}/villages/v-01")["teams"][0]["members"]) == 2  # type: ignore[index]


def test_checklist_versions_count_the_inspections_that_used_each(central: Central) -> None:
    inspect = {"venue": "hotel-01", "place": "大堂", "inspectors": ["insp-a", "insp-b"],
               "inspected_at": START.isoformat(),
               "results": [{"code": "exit-clear", "result": "pass"}]}
    first = central.ok("insp-a", "POST", f"{M}/inspections", json=inspect)
    central.ok("leader", "PUT", f"{M}/checklists", json={
        "station": "chengxiang", "category": "hotel",
        "items": [{"code": "exit-clear", "text": "安全出口畅通", "rule": "消防法第二十八条"}]})
    second = central.ok("insp-a", "POST", f"{M}/inspections", json=inspect)
    versions = central.ok("leader", "GET",
                          f"{M}/checklists/versions?station=chengxiang&category=hotel")
    assert [(v["version"], v["station_id"], v["inspections"]) for v in versions] == [  # type: ignore[union-attr]
        (2, "chengxiang", 1), (1, None, 1)]
    assert [first["checklist_id"], second["checklist_id"]] == [  # type: ignore[index]
        versions[1]["id"], versions[0]["id"]]  # type: ignore[index]
    # another station still uses the starting list, and sees none of chengxiang's copy
    dading = central.ok("insp-d", "GET", f"{M}/checklists/versions?station=dading&category=hotel")
    assert [(v["version"], v["station_id"]) for v in dading] == [(1, None)]  # type: ignore[union-attr]
    assert central.as_user("insp-d").get(
        f"{M}/checklists/versions?station=chengxiang&category=hotel").status_code == 403
    assert central.as_user("leader").get(
        f"{M}/checklists/versions?station=chengxiang&category=pool").status_code == 404
    # the station's recent records, each with who signed it (json_group_array, both backends)
    listed = central.ok("leader", "GET", f"{M}/inspections")
    assert [(r["id"], r["signed_by"], r["photos"]) for r in listed] == [  # type: ignore[union-attr]
        (second["id"], ["insp-a"], 0), (first["id"], ["insp-a"], 0)]  # type: ignore[index]
