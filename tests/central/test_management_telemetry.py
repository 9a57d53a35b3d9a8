"""Issue 15, line 5, for the rules test_management_figures.py does not cover: a device
offline more than 24 h in a week (its last will, judged by central's own supervision) and
a camera offline more than 24 h (the edge agent's camera trouble events). Each history
comes through the ingest path as the devices publish it; each rule opens exactly one
hazard with its evidence, and none for a venue whose outage was shorter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import both_backends
import pytest
from central_testkit import TOPICS, event_message, make_event
from management_testkit import Central, backend_target, management_central

from alarmlink.wire import Event, Heartbeat, Source, Status, encode, new_id
from central.db.backend import open_database
from central.management import telemetry

M = "/api/management"
# the management tests here run on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend, db_target = both_backends.backend, both_backends.db_target


@pytest.fixture
def central(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Any:
    with management_central(backend_target(backend, tmp_path, request), tmp_path) as c:
        yield c


def _service(central: Central) -> Any:
    return central.client.app.state.central  # type: ignore[attr-defined]


def _status(central: Central, device: str, state: str) -> None:
    _service(central).ingestor.handle(TOPICS.status(device), encode(
        Status(state=state, ts=central.clock(), boot_id="b1")))


def _beat(central: Central, device: str) -> None:
    _service(central).ingestor.handle(TOPICS.heartbeat(device), encode(
        Heartbeat(ts=central.clock(), uptime_s=1.0, outbox_depth=0)))


def _camera(central: Central, device: str, state: str) -> None:
    seq = make_event(device).seq
    event = Event(event_id=new_id(), device_id=device, seq=seq, ts=central.clock(),
                  kind="trouble", state=state, zone="camera-gate", source=Source.CAMERA,
                  detail={"reason": "camera offline"} if state == "trouble" else {})
    _service(central).ingestor.handle(*event_message(event))


def _opened(central: Central, rule: str) -> list[dict[str, Any]]:
    opened = central.ok("leader", "POST", f"{M}/telemetry/run")["opened"]  # type: ignore[index]
    return [h for h in opened if h["rule_code"] == rule]


def test_device_offline_more_than_24h_in_a_week_opens_one_hazard(central: Central) -> None:
    service = _service(central)
    for device in ("school-01", "hotel-01"):
        _status(central, device, "online")
        _beat(central, device)
    # both lose power (their last will); the hotel is back after 2 h, the school after 30 h
    for device in ("school-01", "hotel-01"):
        _status(central, device, "offline")
    central.advance(minutes=5)
    service.supervise_once()
    central.advance(hours=2)
    _status(central, "hotel-01", "online")
    _beat(central, "hotel-01")
    service.supervise_once()
    central.advance(hours=28)
    _status(central, "school-01", "online")
    _beat(central, "school-01")
    service.supervise_once()

    opened = _opened(central, "device-offline-24h-week")
    assert [h["venue_id"] for h in opened] == ["school-01"]
    evidence = opened[0]["evidence"]
    assert any("incident" in e for e in evidence)
    assert [e["offline_h"] for e in evidence if "offline_h" in e] == [30.0]
    assert _opened(central, "device-offline-24h-week") == []   # not twice while open


def test_camera_offline_more_than_24h_opens_one_hazard(central: Central) -> None:
    _camera(central, "school-01", "trouble")
    _camera(central, "hotel-01", "trouble")
    central.advance(hours=3)
    _camera(central, "hotel-01", "restore")
    central.advance(hours=20)
    assert _opened(central, "camera-offline-24h") == []   # 23 h: not yet
    central.advance(hours=3)
    opened = _opened(central, "camera-offline-24h")
    assert [h["venue_id"] for h in opened] == ["school-01"]
    evidence = opened[0]["evidence"]
    assert [e["zone"] for e in evidence] == ["camera-gate", "camera-gate"]
    assert evidence[-1]["offline_h"] == 26.0 and "event" in evidence[0]
    # a camera's trouble is not a detector trouble: the 48 h detector rule leaves it
    central.advance(hours=30)
    assert _opened(central, "trouble-uncleared-48h") == []


def test_the_first_camera_rule_is_rewritten_to_the_cameras_events(db_target: Path | str
                                                                 ) -> None:
    db = open_database(db_target)
    db.execute("INSERT INTO telemetry_rules (code, kind, params, description) VALUES "
               "('camera-offline-24h', 'offline', "
               "'{\"hours\": 24, \"window_days\": 7, \"device_class\": \"camera\"}', 'x')")
    db.conn.commit()
    telemetry.seed(db)
    rule = {r["code"]: r for r in telemetry.rules(db)}["camera-offline-24h"]
    assert (rule["kind"], rule["params"]) == ("camera_offline", {"hours": 24, "window_days": 7})
    db.close()
