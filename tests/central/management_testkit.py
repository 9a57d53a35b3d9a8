"""Helpers for the management tests: an in-process central with a settable clock, users
of every management role, and switching the logged-in user."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from central_testkit import DEMO_REGISTRY, TEST_BASE_URL
from fastapi.testclient import TestClient
from fixtures.auth import add_user, login_testclient

from central.api import create_app
from central.config import CentralConfig
from central.db import write_tx
from central.db.backend import open_database
from central.registry import load_registry

M = "/api/management"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: user -> (role, node)
USERS = {"admin-m": ("admin", "root"), "leader": ("station_leader", "station:chengxiang"),
         "insp-a": ("inspector", "station:chengxiang"),
         "insp-b": ("inspector", "station:chengxiang"),
         "insp-d": ("inspector", "station:dading"),
         "mgr-school": ("venue_manager", "venue:school-01"),
         "mgr-hotel": ("venue_manager", "venue:hotel-01")}


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Central:
    client: TestClient
    clock: Clock
    #: The SQLite file, or the PostgreSQL URL (both backends: :func:`backend_target`).
    db_path: Path | str
    current: str = field(default="")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """``sql`` (``?`` placeholders) on central's database, read from a connection of
        the test's own: the rows as tuples."""
        db = open_database(self.db_path)
        try:
            return [tuple(r.values()) for r in db.query(sql, list(params))]
        finally:
            db.close()

    def advance(self, **delta: float) -> None:
        """Move the clock; sessions may expire, so the next request logs in again."""
        self.clock.advance(**delta)
        self.current = ""

    def as_user(self, username: str) -> TestClient:
        if self.current != username:
            self.client.cookies.clear()
            login_testclient(self.client, username)
            self.current = username
        return self.client

    def ok(self, username: str, method: str, path: str, **kwargs: object) -> object:
        answer = self.as_user(username).request(method, path, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 200, (method, path, answer.status_code, answer.text)
        return answer.json() if answer.headers.get("content-type", "").startswith(
            "application/json") else answer.content


def backend_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest
                   ) -> Path | str:
    """Where a management test's central keeps its data: a SQLite file, or a fresh
    PostgreSQL database (``pg_url``)."""
    if backend == "sqlite":
        return tmp_path / "central.db"
    return str(request.getfixturevalue("pg_url"))


@contextmanager
def management_central(db_path: Path | str, data_dir: Path | None = None
                       ) -> Iterator[Central]:
    """Central's app with the management users on ``db_path`` (a SQLite file, or a
    PostgreSQL URL with ``data_dir`` for its files)."""
    db = open_database(db_path)
    load_registry(db, DEMO_REGISTRY)
    db.close()
    for username, (role, node) in USERS.items():
        add_user(db_path, username, role, node)
    clock = Clock()
    config = (CentralConfig(db=db_path, registry=DEMO_REGISTRY) if isinstance(db_path, Path)
              else CentralConfig(database_url=db_path, registry=DEMO_REGISTRY,
                                 data_dir=data_dir or Path("alarmlink-data")))
    with TestClient(create_app(config, publisher=lambda *_: None, clock=clock),
                    base_url=TEST_BASE_URL) as client:
        # after the lifespan loaded the (English) demo registry: Chinese names
        db = open_database(db_path)
        try:
            with write_tx(db):
                db.execute("UPDATE stations SET name = '城厢派出所' WHERE id = 'chengxiang'")
                db.execute("UPDATE venues SET name = '河畔宾馆' WHERE id = 'hotel-01'")
        finally:
            db.close()
        yield Central(client, clock, db_path)


def make_villages(as_user: Callable[..., Any], db_path: Path | str) -> dict[str, Any]:
    """Two villages of chengxiang; v-01 with zones, a liaison point, a team of two, a
    drill and its assistant ``va-01``; v-02 with its own team."""
    as_user("leader", "POST", f"{M}/villages", {"id": "v-01", "name": "东村", "station":
                                                "chengxiang", "zones": ["一区", "二区"],
                                                "venues": ["school-01"]})
    as_user("leader", "POST", f"{M}/villages", {"id": "v-02", "name": "西村",
                                                "station": "chengxiang", "venues": ["hotel-01"]})
    as_user("leader", "POST", f"{M}/villages/v-01/liaison-points",
            {"name": "东村村委会", "contact": "李主任", "phone": "13800000001"})
    team = as_user("leader", "POST", f"{M}/villages/v-01/teams", {
        "name": "东村义务消防队", "members": [{"name": "张三", "phone": "13900000001",
                                              "role": "队长"},
                                             {"name": "李四", "phone": "13900000002",
                                              "role": "队员"}]})
    other = as_user("leader", "POST", f"{M}/villages/v-02/teams",
                    {"name": "西村义务消防队", "members": [{"name": "王五"}]})
    as_user("leader", "POST", f"{M}/drills", {
        "kind": "drill", "team": team["id"], "participants": 9, "notes": "春季演练",
        "held_at": (datetime.now(UTC) - timedelta(days=3)).isoformat()})
    add_user(db_path, "va-01", "village_assistant", "village:v-01", mobile="13700000001")
    return {"team": team, "other": other}
