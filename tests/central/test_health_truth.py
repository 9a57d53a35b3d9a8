"""/healthz tells the truth: a failed commit, a stuck writer, a lost broker each give 503
with one line naming the part, and health comes back when the part does. The probe, the
numbers and a stuck writer on both backends; a full disk is SQLite's (SQLITE_FULL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import both_backends
import httpx
import pytest
from central_testkit import (
    DEMO_REGISTRY,
    TEST_BASE_URL,
    Recorder,
    event_message,
    make_event,
)
from fastapi.testclient import TestClient
from fixtures.central import BOTH_BACKENDS, CentralProcess
from helpers import wait_for
from sqlite_utils import Database

from alarmlink.broker import MosquittoBroker
from central.api import create_app
from central.config import CentralConfig
from central.db import Writer, open_db, write_tx
from central.health import database_problems
from central.health_config import HealthConfig
from central.service import CentralService

backend, db_target = both_backends.backend, both_backends.db_target

QUICK = HealthConfig(probe_interval_s=0.2, failure_hold_s=1.0, max_ingest_lag_s=0.5)


def _client(config: CentralConfig, recorder: Recorder) -> Iterator[TestClient]:
    with TestClient(create_app(config, publisher=recorder), base_url=TEST_BASE_URL) as client:
        yield client


@pytest.fixture
def quick_client(db_target: Path | str, recorder: Recorder, tmp_path: Path
                 ) -> Iterator[TestClient]:
    """Central in a TestClient with short health bounds, on each backend."""
    if isinstance(db_target, Path):
        config = CentralConfig(db=db_target, registry=DEMO_REGISTRY, health=QUICK)
    else:
        config = CentralConfig(database_url=db_target, data_dir=tmp_path / "data",
                               registry=DEMO_REGISTRY, node_name="test", health=QUICK)
    yield from _client(config, recorder)


@pytest.fixture
def sqlite_quick_client(db_path: Path, recorder: Recorder) -> Iterator[TestClient]:
    """The same on SQLite only, for SQLite's own failure (a full file)."""
    yield from _client(CentralConfig(db=db_path, registry=DEMO_REGISTRY, health=QUICK),
                       recorder)


def _service(client: TestClient) -> CentralService:
    service: CentralService = client.app.state.central  # type: ignore[attr-defined]
    return service


def _health(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def test_healthy_central_reports_its_numbers(quick_client: TestClient) -> None:
    status, body = wait_for(lambda: (h := _health(quick_client))[1]["last_commit_at"] and h,
                            what="a first probe commit")
    assert status == 200 and body["ok"] is True and body["problems"] == []
    assert body["db"] == "ok" and body["mqtt"] == "disabled"
    assert body["last_commit_age_s"] < 10 and body["free_mb"] > 0
    assert body["ingest_lag_s"] >= 0 and body["last_write_error"] is None


def test_probe_rewrites_its_row(quick_client: TestClient) -> None:
    service = _service(quick_client)

    def count() -> int:
        row = service.db.execute("SELECT count FROM health_probe").fetchone()
        return 0 if row is None else int(row[0])

    first = wait_for(count, what="a probe row")
    wait_for(lambda: count() >= first + 2, what="the probe to run again")


def _fill_database(db: Database) -> None:
    """Cap the database at its current size: the next write needing a page fails."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")


def _uncap(db: Database) -> None:
    db.execute("PRAGMA max_page_count = 1073741823")


def test_full_database_during_ingest_is_reported(sqlite_quick_client: TestClient) -> None:
    """SQLITE_FULL on an alarm's commit: ingest dead-letters it (or tries to), and
    /healthz says the database is full, naming the fix. SQLite only: the full file is
    made with SQLite's max_page_count (PostgreSQL's full disk is its server's)."""
    quick_client = sqlite_quick_client
    service = _service(quick_client)
    service.writer.call(_fill_database)

    def stored() -> int:
        return int(service.db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    try:
        for _ in range(2000):  # real ingests, until one needs a page the cap refuses
            before = stored()
            service.ingestor.handle(*event_message(make_event("school-01")))
            if stored() == before:
                break
        else:
            pytest.fail("every ingest committed despite the capped database")
        status, body = _health(quick_client)
        assert status == 503 and body["ok"] is False
        line = next(p for p in body["problems"] if p.startswith("database:"))
        assert "disk full (SQLITE_FULL) at " in line and "free space on " in line
        assert body["db"].startswith("error: disk full")
        assert "SQLITE_FULL" in body["last_write_error"]
    finally:
        service.writer.call(_uncap)
    wait_for(lambda: _health(quick_client)[0] == 200, what="healthy again after the hold")


def test_stuck_writer_is_ingest_lag(quick_client: TestClient) -> None:
    service = _service(quick_client)
    release = threading.Event()
    blocker = service.writer.submit(lambda _db: release.wait(30))
    try:
        status, body = wait_for(lambda: (h := _health(quick_client))[0] == 503 and h,
                                what="503 for a stuck writer")
        assert any(p.startswith("ingest: a database job has waited") for p in body["problems"])
        assert body["ingest_lag_s"] > 0.5
    finally:
        release.set()
    blocker.result(timeout=10)
    wait_for(lambda: _health(quick_client)[0] == 200, what="healthy once the writer moves")


def test_failure_line_for_each_sqlite_error(tmp_path: Path) -> None:
    """Unit level: the writer's commit log, judged, gives one line with cause and fix.
    SQLite only: the failure is SQLITE_FULL from SQLite's max_page_count."""
    writer = Writer(open_db(tmp_path / "c.db"))
    try:
        def insert_big(db: Database) -> None:
            with write_tx(db):
                db.execute("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
                db.execute("INSERT INTO filler VALUES (zeroblob(200000))")

        writer.call(insert_big)  # grows the file once, so the cap below bites
        writer.call(_fill_database)
        with pytest.raises(Exception, match="full"):
            writer.call(insert_big)
        problems = database_problems(writer, HealthConfig(), tmp_path, 0.0, free=None)
        assert len(problems) == 1 and "SQLITE_FULL" in problems[0]
        assert problems[0].startswith("database: disk full (SQLITE_FULL) at ")
        assert "\n" not in problems[0]
        # low free space alone is a problem too, with its own fix
        low = database_problems(writer, HealthConfig(failure_hold_s=0), tmp_path, 0.0,
                                free=1024)
        assert any("MiB free" in p and "free space on" in p for p in low)
    finally:
        writer.close()


@pytest.mark.broker
@pytest.mark.parametrize("central_backend", BOTH_BACKENDS)
def test_lost_broker_is_named_and_health_returns(central_process: CentralProcess,
                                                  fresh_mosquitto: MosquittoBroker) -> None:
    url = central_process.url + "/healthz"
    fresh_mosquitto.stop()
    response = wait_for(lambda: (r := httpx.get(url, timeout=5)).status_code == 503 and r,
                        timeout=30, what="503 with the broker stopped")
    body = response.json()
    assert body["mqtt"] == "disconnected"
    assert body["problems"][0].startswith("broker: not connected")
    assert "Mosquitto" in body["problems"][0]
    fresh_mosquitto.start()
    wait_for(lambda: httpx.get(url, timeout=5).status_code == 200, timeout=60,
             what="200 with the broker back")
