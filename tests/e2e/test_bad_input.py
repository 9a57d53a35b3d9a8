"""Issue 2, lines 5 and 7: bad input is dead-lettered with a reason and ingest goes on;
test (walk-test) events are stored and flagged but never open an incident."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e.harness import button_only
from fixtures.central import BOTH_BACKENDS, CentralProcess
from fixtures.mqtt import MqttTestClient
from helpers import device_user, wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from simulators.venue import VenueSimulator

topics = wire.Topics()


def _valid_event(device_id: str) -> wire.Event:
    return wire.Event(event_id=wire.new_id(), device_id=device_id, seq=1, ts=wire.utcnow(),
                      kind=wire.Kind.PANIC, state=wire.State.ALARM, zone="gate-button",
                      source=wire.Source.GPIO)


@pytest.mark.parametrize("central_backend", BOTH_BACKENDS)
def test_bad_messages_are_dead_lettered_and_ingest_continues(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess,
        mqtt_test_client: Callable[..., MqttTestClient]) -> None:
    school = mqtt_test_client(fresh_mosquitto.url, device_user("school-01"))
    # a broker account, not in the registry
    unknown = mqtt_test_client(fresh_mosquitto.url, device_user("dev-a"))
    good = json.loads(wire.encode(_valid_event("school-01")))
    bad = {
        "malformed": (school, b'{"v": 1, "event_id": '),
        "version": (school, json.dumps({**good, "v": 2}).encode()),
        "oversize": (school, json.dumps({**good, "detail": {"pad": "x" * 500}}).encode()
                     + b" " * wire.MAX_PAYLOAD_BYTES),
        "unknown device": (unknown, wire.encode(_valid_event("dev-a"))),
    }
    for client, payload in bad.values():
        topic = topics.event("dev-a" if client is unknown else "school-01")
        client.publish(topic, payload, wait=5)
    letters = wait_for(lambda: (rows := central_process.rows(
        "SELECT topic, reason, payload FROM dead_letters ORDER BY id")) and len(rows) >= 4
        and rows, what="four dead letters")
    # one device's messages stay in order; between devices ingest is fair (round-robin)
    mine = [r for r in letters if r["topic"] == topics.event("school-01")]
    reasons = [r["reason"] for r in mine]
    assert "not valid UTF-8 JSON" in reasons[0]
    assert "schema version" in reasons[1]
    assert "limit" in reasons[2]
    assert [r["reason"] for r in letters if r["topic"] == topics.event("dev-a")] == [
        "unknown device 'dev-a': not in the registry"]
    assert mine[0]["payload"] == b'{"v": 1, "event_id": '
    assert len(mine[2]["payload"]) <= 4096, "raw bytes are bounded"
    assert central_process.rows("SELECT count(*) AS n FROM events")[0]["n"] == 0

    event = _valid_event("school-01")
    school.publish(topics.event("school-01"), wire.encode(event), wait=5)
    wait_for(lambda: central_process.rows("SELECT 1 FROM events WHERE event_id = ?",
                                          (event.event_id,)), what="the next valid event stored")
    health = central_process.api("GET", "/healthz")
    assert health


def test_walk_test_events_are_stored_flagged_and_never_open_incidents(
        fresh_mosquitto: MosquittoBroker, central_process: CentralProcess, console_for,
        tmp_path: Path) -> None:
    console = console_for("chengxiang")
    config = button_only("school", fresh_mosquitto, tmp_path / "agent", walk_test=True)
    with VenueSimulator(config, out=None) as sim:
        wait_for(lambda: sim.agent.connected, what="agent connected")
        events = [sim.press("gate-button") for _ in range(3)]
        assert all(e.test for e in events)
        wait_for(lambda: sim.agent.outbox.depth() == 0, what="stored receipts")
    rows = central_process.rows(
        "SELECT test, incident_id FROM events WHERE device_id = 'school-01'")
    assert len(rows) >= 3
    assert all(r["test"] == 1 and r["incident_id"] is None for r in rows)
    assert central_process.rows("SELECT count(*) AS n FROM incidents")[0]["n"] == 0
    assert central_process.api("GET", "/api/incidents?status=all") == []
    assert console.incidents() == []
