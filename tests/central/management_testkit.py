"""Helpers for the management tests: an in-process central with a settable clock, users
of every management role, and switching the logged-in user."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central_testkit import DEMO_REGISTRY, TEST_BASE_URL
from fastapi.testclient import TestClient
from fixtures.auth import add_user, login_testclient

from central.api import create_app
from central.config import CentralConfig
from central.db import open_db
from central.registry import load_registry

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
    db_path: Path
    current: str = field(default="")

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


@contextmanager
def management_central(db_path: Path) -> Iterator[Central]:
    db = open_db(db_path)
    load_registry(db, DEMO_REGISTRY)
    db.close()
    for username, (role, node) in USERS.items():
        add_user(db_path, username, role, node)
    clock = Clock()
    config = CentralConfig(db=db_path, registry=DEMO_REGISTRY)
    with TestClient(create_app(config, publisher=lambda *_: None, clock=clock),
                    base_url=TEST_BASE_URL) as client:
        # after the lifespan loaded the (English) demo registry: Chinese names
        with sqlite3.connect(db_path) as raw:
            raw.execute("UPDATE stations SET name = '城厢派出所' WHERE id = 'chengxiang'")
            raw.execute("UPDATE venues SET name = '河畔宾馆' WHERE id = 'hotel-01'")
        yield Central(client, clock, db_path)
