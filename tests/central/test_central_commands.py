"""Central's command API and device board API (publisher = recorder; the real broker
path is in tests/e2e/test_commands.py), on both backends."""

from __future__ import annotations

from datetime import timedelta

import both_backends
from central_testkit import TOPICS, Recorder
from fastapi.testclient import TestClient

from alarmlink.wire import Command, CommandResult, Status, decode, encode, utcnow
from central.service import CentralService

backend, client = both_backends.backend, both_backends.client


def service(client: TestClient) -> CentralService:
    central: CentralService = client.app.state.central  # type: ignore[attr-defined]
    return central


def test_command_is_stored_published_and_its_result_joined(client: TestClient,
                                                           recorder: Recorder) -> None:
    before = utcnow()
    response = client.post("/api/devices/school-01/commands",
                           json={"name": "self_test", "ttl_s": 30,
                                 "args": {"verbose": True}})
    assert response.status_code == 202, response.text
    sent = response.json()
    assert sent["status"] == "pending" and sent["result"] is None
    [(topic, payload)] = [m for m in recorder.messages if m[0].endswith("/cmd")]
    assert topic == TOPICS.cmd("school-01")
    command = decode(Command, payload)
    assert command.cmd_id == sent["cmd_id"] and command.by == "officer-li"
    assert command.args == {"verbose": True}
    assert timedelta(seconds=29) < command.expires_at - before < timedelta(seconds=31)

    result = CommandResult(cmd_id=command.cmd_id, ok=True, ts=utcnow(),
                           detail={"outbox_depth": 0, "problems": "none"})
    service(client).ingestor.handle(TOPICS.cmd_result("school-01"), encode(result))
    [listed] = client.get("/api/devices/school-01/commands").json()
    assert listed["status"] == "ok" and listed["name"] == "self_test"
    assert listed["result"]["detail"] == {"outbox_depth": 0, "problems": "none"}
    assert client.get("/api/devices/hotel-01/commands").json() == []


def test_expired_refusal_and_unanswered_commands_are_told_apart(client: TestClient) -> None:
    refused = client.post("/api/devices/school-01/commands",
                          json={"name": "reboot"}).json()
    service(client).ingestor.handle(TOPICS.cmd_result("school-01"), encode(CommandResult(
        cmd_id=refused["cmd_id"], ok=False, ts=utcnow(), detail={"reason": "expired"})))
    quiet = client.post("/api/devices/school-01/commands",
                        json={"name": "reload_config", "ttl_s": 1})
    service(client).clock = lambda: utcnow() + timedelta(seconds=5)  # later, no answer came
    statuses = {c["cmd_id"]: c["status"] for c in
                client.get("/api/devices/school-01/commands").json()}
    assert statuses == {refused["cmd_id"]: "refused_expired", quiet.json()["cmd_id"]: "unanswered"}


def test_command_requests_are_checked(client: TestClient, recorder: Recorder) -> None:
    assert client.post("/api/devices/nope/commands",
                       json={"name": "self_test"}).status_code == 404
    assert client.get("/api/devices/nope/commands").status_code == 404
    # the acting officer comes from the session: a body naming one is refused
    for body in ({"name": "launch"}, {"name": "self_test", "actor": "officer-wang"},
                 {"name": "self_test", "ttl_s": 0},
                 {"name": "self_test", "args": {"x": [1]}},
                 {"name": "self_test", "retain": True},
                 {"name": "self_test", "args": {f"k{i}": i for i in range(40)}}):
        response = client.post("/api/devices/school-01/commands", json=body)
        assert response.status_code == 422, body
    assert not [m for m in recorder.messages if m[0].endswith("/cmd")]


def test_device_board_has_supervision_fields_and_a_station_filter(client: TestClient) -> None:
    service(client).ingestor.handle(TOPICS.status("hotel-01"),
                                     encode(Status(state="online", ts=utcnow())))
    devices = {d["device_id"]: d for d in client.get("/api/devices").json()}
    assert devices["hotel-01"]["state"] == "online" and devices["hotel-01"]["online"] is True
    assert devices["school-01"]["state"] == "never" and devices["school-01"]["online"] is False
    assert devices["village-01"]["device_class"] == "slow"
    assert devices["village-01"]["bound_s"] == 180
    assert devices["hotel-01"]["device_class"] == "standard"
    assert devices["hotel-01"]["bound_s"] == 60
    dading = client.get("/api/devices", params={"station": "dading"}).json()
    assert [d["device_id"] for d in dading] == ["village-01"]
