"""Walk tests over HTTP: a reason and a bounded duration, the active list, the end by itself
(on both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import both_backends
import httpx
import pytest
from both_backends import sqlite_only
from central_testkit import (
    DEMO_REGISTRY,
    TEST_BASE_URL,
    Recorder,
    event_message,
    make_event,
)
from fastapi.testclient import TestClient
from fixtures.auth import add_user, login_testclient

from central.api import create_app
from central.config import CentralConfig
from central.service import CentralService

backend, db_target = both_backends.backend, both_backends.db_target

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
URL = "/api/devices/school-01/commissioning"


class Clock:
    """Central's injectable clock, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def walk_client(db_target: Path | str, recorder: Recorder, clock: Clock, tmp_path: Path
                ) -> Iterator[TestClient]:
    where: dict[str, object] = (
        {"db": db_target} if isinstance(db_target, Path) else
        {"database_url": db_target, "data_dir": tmp_path / "data", "node_name": "test"})
    config = CentralConfig.model_validate({**where, "registry": DEMO_REGISTRY,
                                           "commissioning": {"max_duration_s": 7200}})
    add_user(db_target)
    with TestClient(create_app(config, publisher=recorder, clock=clock),
                    base_url=TEST_BASE_URL) as test_client:
        login_testclient(test_client)
        yield test_client


def _start(client: TestClient, **extra: object) -> httpx.Response:
    return client.post(URL, json={"action": "start", **extra})


@sqlite_only("request validation before any storage; the active list on PostgreSQL is the "
             "next tests'")
@pytest.mark.parametrize(("body", "field"), [
    ({}, "reason"),
    ({"reason": ""}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": "x" * 201}, "reason"),
    ({"reason": "ok", "duration_s": 30}, "duration_s"),
    ({"reason": "ok", "duration_s": 7201}, "duration_s"),
    ({"reason": "ok", "duration_s": "soon"}, "duration_s"),
])
def test_reason_and_duration_are_validated(walk_client: TestClient, body: dict[str, object],
                                           field: str) -> None:
    resp = _start(walk_client, **body)
    assert resp.status_code == 422, resp.text
    payload = resp.json()
    text = payload.get("message") or payload["detail"]
    assert field in text, text
    assert walk_client.get("/api/commissioning/active").json() == []


def test_walk_test_is_listed_and_ends_at_the_requested_duration(
        walk_client: TestClient, clock: Clock) -> None:
    started = _start(walk_client, reason="更换烟感后测试", duration_s=1800).json()
    assert started["active"] and started["session"]["reason"] == "更换烟感后测试"
    assert started["session"]["ends_at"] == "2026-11-28T01:30:00.000Z"
    (active,) = walk_client.get("/api/commissioning/active").json()
    assert {k: active[k] for k in ("device_id", "venue_id", "station_id", "reason",
                                   "started_by", "ends_at", "ends_at_local")} == {
        "device_id": "school-01", "venue_id": "school-01", "station_id": "chengxiang",
        "reason": "更换烟感后测试", "started_by": "officer-li",
        "ends_at": "2026-11-28T01:30:00.000Z", "ends_at_local": "09:30"}
    service: CentralService = walk_client.app.state.central

    clock.now = T0 + timedelta(minutes=29)
    service.ingestor.handle(*event_message(make_event("school-01", ts=clock.now)))
    assert walk_client.get("/api/incidents").json() == [], "a walk-test alarm opened an incident"
    board = {d["device_id"]: d for d in walk_client.get("/api/devices").json()}
    assert board["school-01"]["commissioning"]

    clock.now = T0 + timedelta(minutes=30)
    assert walk_client.get("/api/commissioning/active").json() == []
    assert not walk_client.get(URL).json()["active"]
    board = {d["device_id"]: d for d in walk_client.get("/api/devices").json()}
    assert not board["school-01"]["commissioning"]
    service.ingestor.handle(*event_message(make_event("school-01", ts=clock.now)))
    (incident,) = walk_client.get("/api/incidents").json()
    assert incident["venue_id"] == "school-01", "an alarm after the walk test was not real"


def test_default_duration_is_the_configured_one(walk_client: TestClient) -> None:
    started = _start(walk_client, reason="例行测试").json()
    assert started["session"]["ends_at"] == "2026-11-28T02:00:00.000Z"  # 3600 s
