"""Issue 2, lines 5 and 7: bad input is dead-lettered with a reason and ingest goes on;
test (walk-test) events are stored and flagged but never open an incident."""

from __future__ import annotations

import json
from pathlib import Path

import paho.mqtt.client as mqtt
from e2e.harness import CentralProcess, button_only
from helpers import device_user, wait_for

from alarmlink import wire
from alarmlink.broker import MosquittoBroker
from alarmlink.mqtt import paho_client
from simulators.venue import VenueSimulator

topics = wire.Topics()


def _device_client(broker: MosquittoBroker, device_id: str) -> mqtt.Client:
    user = device_user(device_id)
    client = paho_client(client_id=f"raw-{device_id}")
    client.username_pw_set(user.username, user.password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def _valid_event(device_id: str) -> wire.Event:
    return wire.Event(event_id=wire.new_id(), device_id=device_id, seq=1, ts=wire.utcnow(),
                      kind=wire.Kind.PANIC, state=wire.State.ALARM, zone="gate-button",
                      source=wire.Source.GPIO)


def test_bad_messages_are_dead_lettered_and_ingest_continues(
        mosquitto: MosquittoBroker, central: CentralProcess) -> None:
    school = _device_client(mosquitto, "school-01")
    unknown = _device_client(mosquitto, "dev-a")  # broker account, not in the registry
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
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    letters = wait_for(lambda: (rows := central.rows(
        "SELECT topic, reason, payload FROM dead_letters ORDER BY id")) and len(rows) >= 4
        and rows, what="four dead letters")
    reasons = [r["reason"] for r in letters]
    assert "not valid UTF-8 JSON" in reasons[0]
    assert "schema version" in reasons[1]
    assert "limit" in reasons[2]
    assert reasons[3] == "unknown device 'dev-a': not in the registry"
    assert letters[0]["payload"] == b'{"v": 1, "event_id": '
    assert len(letters[2]["payload"]) <= 4096, "raw bytes are bounded"
    assert central.rows("SELECT count(*) AS n FROM events")[0]["n"] == 0

    event = _valid_event("school-01")
    school.publish(topics.event("school-01"), wire.encode(event), qos=1).wait_for_publish(5)
    wait_for(lambda: central.rows("SELECT 1 FROM events WHERE event_id = ?",
                                  (event.event_id,)), what="the next valid event stored")
    health = central.api("GET", "/healthz")
    assert health
    for client in (school, unknown):
        client.disconnect()
        client.loop_stop()


def test_walk_test_events_are_stored_flagged_and_never_open_incidents(
        mosquitto: MosquittoBroker, central: CentralProcess, console_for,
        tmp_path: Path) -> None:
    console = console_for("chengxiang")
    config = button_only("school", mosquitto, tmp_path / "agent", walk_test=True)
    with VenueSimulator(config, out=None) as sim:
        wait_for(lambda: sim.agent.connected, what="agent connected")
        events = [sim.press("gate-button") for _ in range(3)]
        assert all(e.test for e in events)
        wait_for(lambda: sim.agent.outbox.depth() == 0, what="stored receipts")
    rows = central.rows("SELECT test, incident_id FROM events WHERE device_id = 'school-01'")
    assert len(rows) >= 3
    assert all(r["test"] == 1 and r["incident_id"] is None for r in rows)
    assert central.rows("SELECT count(*) AS n FROM incidents")[0]["n"] == 0
    assert central.api("GET", "/api/incidents?status=all") == []
    assert console.incidents() == []
