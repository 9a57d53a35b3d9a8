"""The month's figures from the records: the dashboard scenario (226 / 112 / 109 / 12 / 1),
telemetry rules opening hazards from the devices' history, and versioned scores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import both_backends
import management_scenario
import pytest
from central_testkit import event_message, make_event
from management_testkit import START, Central, backend_target, management_central

M = "/api/management"


# the management tests here run on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend = both_backends.backend


@pytest.fixture
def central(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Any:
    with management_central(backend_target(backend, tmp_path, request), tmp_path) as c:
        yield c


def test_scenario_dashboard_shows_the_periods_figures_and_their_records(
        central: Central) -> None:
    done = management_scenario.run(
        lambda user, method, path, body: central.ok(user, method, path, json=body), START)
    hazards = done.hazards

    period = {"station": "chengxiang", "since": "2026-03-01T00:00:00+08:00",
              "until": "2026-04-01T00:00:00+08:00"}
    board = central.ok("leader", "GET", f"{M}/dashboard", params=period)
    figures = board["figures"]  # type: ignore[index]
    assert {k: figures[k] for k in management_scenario.FIGURES} == management_scenario.FIGURES
    assert tuple(management_scenario.FIGURES.values()) == (226, 112, 109, 12, 1)
    for figure, count in figures.items():
        if figure == "venues_inspected":
            continue
        rows = central.ok("leader", "GET", f"{M}/dashboard/records",
                          params={**period, "figure": figure})
        assert len(rows) == count, figure  # type: ignore[arg-type]
    listed = central.ok("leader", "GET", f"{M}/dashboard/records",
                        params={**period, "figure": "hazards_found"})
    assert sorted(r["id"] for r in listed) == sorted(hazards)  # type: ignore[union-attr]
    csv = central.ok("leader", "GET", f"{M}/dashboard/records",
                     params={**period, "figure": "penalty_cases", "format": "csv"})
    assert isinstance(csv, bytes) and len(csv.decode().strip().splitlines()) == 13
    # a station outside the leader's part of the tree is refused
    other = central.as_user("leader").get(f"{M}/dashboard", params={"station": "dading"})
    assert other.status_code == 403


def _ingest(central: Central, **event: Any) -> None:
    service = central.client.app.state.central  # type: ignore[attr-defined]
    service.ingestor.handle(*event_message(make_event(**event)))


def test_telemetry_rules_open_exactly_one_hazard_with_evidence(central: Central) -> None:
    # a detector trouble at the school never cleared; one at the hotel cleared in an hour
    _ingest(central, device_id="school-01", kind="trouble", state="trouble",
            zone="dormitory-smoke", ts=START)
    _ingest(central, device_id="hotel-01", kind="trouble", state="trouble",
            zone="corridor-2f-smoke", ts=START)
    _ingest(central, device_id="hotel-01", kind="trouble", state="restore",
            zone="corridor-2f-smoke", ts=START + timedelta(hours=1))
    # four false alarms at the hotel in 30 days, three at the school
    for venue, zone, times in (("hotel-01", "reception-button", 4),
                               ("school-01", "gate-button", 3)):
        for i in range(times):
            _ingest(central, device_id=venue, zone=zone,
                    ts=START + timedelta(hours=2 + i))
            incident = [x for x in central.ok("admin-m", "GET", "/api/incidents")  # type: ignore[union-attr]
                        if x["venue_id"] == venue and x["category"] == "alarm"
                        and x["status"] == "new"][0]
            central.ok("admin-m", "POST", f"/api/incidents/{incident['id']}/resolve",
                       json={"outcome": "false_alarm"})
    central.advance(hours=49)
    opened = central.ok("leader", "POST", f"{M}/telemetry/run")["opened"]  # type: ignore[index]
    by_rule = {(h["rule_code"], h["venue_id"]) for h in opened}
    assert by_rule == {("trouble-uncleared-48h", "school-01"),
                       ("false-alarms-30d", "hotel-01")}
    false_alarms = next(h for h in opened if h["rule_code"] == "false-alarms-30d")
    assert len(false_alarms["evidence"]) == 4 and all("incident" in e
                                                      for e in false_alarms["evidence"])
    trouble = next(h for h in opened if h["rule_code"] == "trouble-uncleared-48h")
    assert [e["zone"] for e in trouble["evidence"]] == ["dormitory-smoke"]
    # run again: nothing new while those hazards are open
    assert central.ok("leader", "POST", f"{M}/telemetry/run")["opened"] == []  # type: ignore[index]


def test_scores_recompute_identically_and_a_new_rule_version_leaves_the_past(
        central: Central) -> None:
    for i in range(3):
        central.ok("insp-a", "POST", f"{M}/inspections", json={
            "venue": "school-01", "place": "现场", "inspectors": ["insp-a", "insp-b"],
            "inspected_at": (START + timedelta(days=i)).isoformat(),
            "results": [{"code": "exit-clear", "result": "fail" if i == 0 else "pass"}]})
    central.advance(days=40)
    first = central.ok("admin-m", "POST", f"{M}/scores/compute",
                       json={"subject": "venue", "period": "2026-03"})
    again = central.ok("admin-m", "POST", f"{M}/scores/compute",
                       json={"subject": "venue", "period": "2026-03"})
    assert again["changed"] == [] and again["scores"] == first["scores"]  # type: ignore[index]
    school = central.ok("leader", "GET", f"{M}/scores/venue/school-01",
                        params={"period": "2026-03"})
    assert len(school) == 1 and school[0]["inputs"]["hazards_open"] == 1  # type: ignore[index]
    assert school[0]["lines"][0] == {"input": "base", "value": None, "weight": None,  # type: ignore[index]
                                     "points": 80}
    v1_score = school[0]["score"]  # type: ignore[index]

    rule = central.ok("admin-m", "POST", f"{M}/score-rules", json={
        "subject": "venue", "base": 90, "terms": [{"input": "hazards_open", "weight": -10}]})
    assert rule["version"] == 2  # type: ignore[index]
    central.ok("admin-m", "POST", f"{M}/scores/compute",
               json={"subject": "venue", "period": "2026-03"})
    both = central.ok("leader", "GET", f"{M}/scores/venue/school-01",
                      params={"period": "2026-03"})
    assert [(s["rule_version"], s["score"]) for s in both] == [(2, 80.0), (1, v1_score)]  # type: ignore[union-attr]
    old = central.ok("admin-m", "POST", f"{M}/scores/compute",
                     json={"subject": "venue", "period": "2026-03", "version": 1})
    assert old["changed"] == []  # type: ignore[index]
    ranking = central.ok("leader", "GET", f"{M}/rankings",
                         params={"subject": "venue", "period": "2026-03", "county": "duan"})
    assert [r["rank"] for r in ranking] == list(range(1, len(ranking) + 1))  # type: ignore[union-attr]
