"""``GET /api/audit`` and ``GET /api/incidents/{id}/audit`` over central's app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import both_backends
from central_testkit import (
    DEMO_REGISTRY,
    TEST_BASE_URL,
    Recorder,
    event_message,
    make_event,
)
from fastapi.testclient import TestClient
from fixtures.auth import add_user, login_testclient
from helpers import wait_for

from central import audit
from central.api import create_app
from central.audit import Entry
from central.config import CentralConfig
from central.db import open_db
from central.service import CentralService

# the API tests here run on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend, client = both_backends.backend, both_backends.client

T0 = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)


def _service(client: TestClient) -> CentralService:
    service: CentralService = client.app.state.central  # type: ignore[attr-defined]
    return service


def test_audit_routes_filter_and_name_a_missing_incident(client: TestClient) -> None:
    service = _service(client)
    service.ingestor.handle(*event_message(make_event("school-01")))
    incident_id = client.get("/api/incidents").json()[0]["id"]
    for i, (user, obj) in enumerate([("li", f"incident:{incident_id}"), ("wang", "device:x"),
                                     ("li", "incident:999")]):
        service.writer.call(audit.append, Entry(user, "duty_officer", "127.0.0.1",
                                                "incident.acknowledge", obj, "denied",
                                                {"why": "不在辖区"}), at=T0 + timedelta(hours=i))
    rows = client.get("/api/audit", params={"username": "li"}).json()
    assert [r["object"] for r in rows] == ["incident:999", f"incident:{incident_id}"]
    assert rows[0]["detail"] == {"why": "不在辖区"} and "hash" in rows[0]
    since = client.get("/api/audit", params={"since": "2026-11-01T10:00:00+08:00"}).json()
    # (the login of the test's admin is audited too, at the real time: leave it out)
    assert [r["object"] for r in since if r["username"] in ("li", "wang")] == \
        ["incident:999", "device:x"]
    naive = client.get("/api/audit", params={"since": "2026-11-01T10:00:00"})
    assert naive.status_code == 422 and "since" in naive.text
    mine = client.get(f"/api/incidents/{incident_id}/audit").json()
    assert [r["username"] for r in mine] == ["li"]
    missing = client.get("/api/incidents/4242/audit")
    assert missing.status_code == 404 and "incident 4242" in missing.text



def test_central_prunes_old_audit_rows_at_start(db_path: Path, recorder: Recorder) -> None:
    # 90 days ahead of the real time: the test admin's rows (written at the real time)
    # stay inside the 180-day retention
    now = datetime.now(UTC) + timedelta(days=90)
    db = open_db(db_path)
    for days in (400, 200, 10):
        audit.append(db, Entry("li", "duty_officer", "x", "incident.resolve", "incident:1",
                               "allowed"), at=now - timedelta(days=days))
    db.close()
    config = CentralConfig.model_validate({"db": db_path, "registry": DEMO_REGISTRY,
                                           "audit": {"retention_days": 180}})
    add_user(db_path)
    with TestClient(create_app(config, publisher=recorder, clock=lambda: now),
                    base_url=TEST_BASE_URL) as client:
        login_testclient(client)
        pruned = wait_for(lambda: client.get("/api/audit", params={"object": "audit_log"})
                          .json(), what="the audit.prune row")
    assert pruned[0]["action"] == "audit.prune" and pruned[0]["detail"]["rows"] == 2
    check = open_db(db_path)
    assert audit.verify(check).ok
    assert check.execute("SELECT count(*) FROM audit_log WHERE username = 'li'"
                         ).fetchone()[0] == 1
    check.close()
