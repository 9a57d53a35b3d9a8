"""Issue 15, line 8 (the audit half): every state-changing management route writes an
audit entry naming the actor. The test walks the app's routes: a new POST/PUT/DELETE
under /api/management without a step here fails it, and each step must add an
``allowed`` entry with the acting user's name and the route's action."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import both_backends
import pytest
from fastapi.routing import APIRoute
from management_testkit import START, Central, backend_target, management_central

M = "/api/management"
CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


# the management tests here run on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend = both_backends.backend


@pytest.fixture
def central(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Any:
    with management_central(backend_target(backend, tmp_path, request), tmp_path) as c:
        yield c


def _walk(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router
            yield from _walk(route.original_router.routes)


def _audit(c: Central) -> list[tuple[str, str, str]]:
    return c.rows("SELECT username, action, result FROM audit_log ORDER BY id")  # type: ignore[return-value]


Step = tuple[str, str, str, str, Callable[[dict[str, Any]], dict[str, Any]], str]


def _steps() -> list[Step]:
    """(user, method, route template, URL template, body(ids), action), in an order where
    each step finds what it needs; ids collects what earlier steps created."""
    inspection = {"venue": "hotel-01", "place": "一楼", "inspectors": ["insp-a", "insp-b"],
                  "inspected_at": START.isoformat(),
                  "results": [{"code": "exit-clear", "result": "fail", "note": "出口堵塞"}]}
    return [
        ("admin-m", "POST", "/villages", "/villages",
         lambda _: {"id": "v-audit", "name": "审计村", "station": "chengxiang"}, "org.manage"),
        ("admin-m", "POST", "/villages/{village_id}/teams", "/villages/v-audit/teams",
         lambda _: {"name": "志愿消防队", "members": [{"name": "张三"}]}, "team.manage"),
        ("admin-m", "POST", "/villages/{village_id}/liaison-points",
         "/villages/v-audit/liaison-points",
         lambda _: {"name": "村委会", "contact": "李四", "phone": "13800000000"}, "org.manage"),
        ("leader", "POST", "/teams/{team_id}/members", "/teams/{team}/members",
         lambda _: {"name": "王五", "phone": "13900000000", "role": "队员"}, "team.manage"),
        ("leader", "PUT", "/teams/{team_id}/members/{member_id}",
         "/teams/{team}/members/{member}",
         lambda _: {"name": "王五", "phone": "13900000001", "role": "副队长"}, "team.manage"),
        ("leader", "DELETE", "/teams/{team_id}/members/{member_id}",
         "/teams/{team}/members/{member}", lambda _: {}, "team.manage"),
        ("leader", "POST", "/drills", "/drills",
         lambda ids: {"kind": "drill", "team": ids["team"],
                      "held_at": START.isoformat()}, "team.manage"),
        ("leader", "PUT", "/checklists", "/checklists",
         lambda _: {"station": "chengxiang", "category": "hotel", "items": [
             {"code": "exit-clear", "text": "安全出口畅通", "rule": "消防法第二十八条"}]},
         "checklist.manage"),
        ("leader", "PUT", "/plans", "/plans",
         lambda _: {"venue": "hotel-01", "every_days": 30, "inspectors": ["insp-a"]},
         "plan.manage"),
        ("insp-a", "POST", "/inspections", "/inspections", lambda _: inspection,
         "inspection.record"),
        ("insp-b", "POST", "/inspections/{inspection_id}/confirm",
         "/inspections/{inspection}/confirm", lambda _: {}, "inspection.record"),
        ("insp-a", "POST", "/photos", "/photos?owner=inspection:{inspection}", lambda _: {},
         "hazard.record"),
        ("insp-a", "POST", "/hazards", "/hazards",
         lambda _: {"venue": "hotel-01", "severity": "major", "description": "消防通道占用"},
         "hazard.record"),
        ("insp-a", "POST", "/notices", "/notices",
         lambda ids: {"hazards": [ids["hazard"]], "kind": "deadline",
                      "deadline": (START + timedelta(days=3)).isoformat()}, "notice.issue"),
        ("mgr-hotel", "POST", "/notices/{notice_id}/proof", "/notices/{notice}/proof",
         lambda _: {"text": "已清理", "reinspection": True}, "notice.proof"),
        ("insp-b", "POST", "/notices/{notice_id}/reinspection", "/notices/{notice}/reinspection",
         lambda _: {"passed": False, "inspectors": ["insp-a", "insp-b"]},
         "reinspection.record"),
        ("leader", "POST", "/escalate", "/escalate", lambda _: {}, "telemetry.run"),
        ("insp-a", "POST", "/penalties", "/penalties",
         lambda ids: {"venue": "hotel-01", "notice": ids["notice"], "proposal": "逾期未改"},
         "penalty.propose"),
        ("leader", "POST", "/penalties/{penalty_id}/approval", "/penalties/{penalty}/approval",
         lambda _: {"approve": True}, "penalty.approve"),
        ("insp-b", "POST", "/penalties/{penalty_id}/decision", "/penalties/{penalty}/decision",
         lambda _: {"decision": "fine", "amount_yuan": 200}, "penalty.decide"),
        ("insp-a", "POST", "/investigations", "/investigations",
         lambda _: {"venue": "hotel-01", "summary": "电气线路起火"}, "investigation.record"),
        ("leader", "POST", "/telemetry/run", "/telemetry/run", lambda _: {}, "telemetry.run"),
        ("leader", "POST", "/scores/compute", "/scores/compute",
         lambda _: {"subject": "venue", "period": "2026-03"}, "score.compute"),
        ("admin-m", "POST", "/score-rules", "/score-rules",
         lambda _: {"subject": "venue", "base": 90, "terms": []}, "score.rules"),
    ]


def test_every_management_change_is_audited_with_its_actor(central: Central) -> None:
    app = central.client.app
    routes = {(method, route.path.removeprefix(M)) for route in _walk(app.routes)  # type: ignore[attr-defined]
              if route.path.startswith(M + "/") for method in route.methods & CHANGES}
    steps = _steps()
    assert {(s[1], s[2]) for s in steps} == routes, "a management change without an audit step"

    #: the created object's id kept for later steps: route -> name
    keep = {"/villages/{village_id}/teams": "team", "/teams/{team_id}/members": "member",
            "/inspections": "inspection",
            "/hazards": "hazard", "/notices": "notice", "/penalties": "penalty"}
    ids: dict[str, Any] = {}
    for user, method, route, url, body, action in steps:
        before = len(_audit(central))
        path = M + url.format(**ids)
        if route == "/photos":
            answer = central.as_user(user).post(path, content=b"\xff\xd8\xff\xe0jpeg",
                                                headers={"Content-Type": "image/jpeg"})
            assert answer.status_code == 200, answer.text
        else:
            created = central.ok(user, method, path, json=body(ids))
            if route in keep:
                assert isinstance(created, dict)
                ids[keep[route]] = created["id"]
        entries = _audit(central)[before:]
        assert (user, action, "allowed") in entries, (method, path, entries)
