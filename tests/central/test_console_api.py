"""The duty console's API (issue 12): settings, venue card, notes and procedure steps in
the timeline, history with filters and its CSV export."""

from __future__ import annotations

import csv
import io

import both_backends
from central_testkit import event_message, make_event
from fastapi.testclient import TestClient

from central.service import CentralService

# the API tests here run on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend, client = both_backends.backend, both_backends.client


def raise_alarm(client: TestClient, device: str = "school-01", zone: str = "gate-button",
                kind: str = "panic") -> int:
    central: CentralService = client.app.state.central  # type: ignore[attr-defined]
    central.ingestor.handle(*event_message(make_event(device, zone=zone, kind=kind)))
    incidents = client.get("/api/incidents").json()
    return int(next(i["id"] for i in incidents if i["venue_id"] == device))


def test_settings_give_the_zone_and_the_acknowledgement_target(client: TestClient) -> None:
    settings = client.get("/api/console").json()
    assert settings["timezone"] == "Asia/Shanghai"
    assert settings["ack_target_s"] == 30 and settings["ack_red_s"] == 60
    assert settings["map"] == {"tiles": "none", "url": None, "max_zoom": 16}
    outlines = client.get("/api/map/counties").json()
    assert outlines["features"][0]["properties"]["id"] == "duan"
    ring = outlines["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1]


def test_note_and_procedure_step_are_in_the_timeline_with_the_officer(
        client: TestClient) -> None:
    incident_id = raise_alarm(client)
    assert client.post(f"/api/incidents/{incident_id}/notes",
                       json={"text": "门卫说是学生误按"}).status_code == 200
    assert client.post(f"/api/incidents/{incident_id}/procedure",
                       json={"step": 1, "done": True}).status_code == 200
    detail = client.get(f"/api/incidents/{incident_id}").json()
    assert detail["venue"]["contacts"][1]["role"] == "keyholder"
    assert detail["venue"]["lat"] == 23.934
    assert detail["procedure"]["1"]["done"] is True
    assert detail["procedure"]["1"]["actor"] == "officer-li"
    entries = [(e["action"], e["actor"]) for e in detail["log"]]
    assert ("note", "officer-li") in entries and ("procedure", "officer-li") in entries
    refused = client.post(f"/api/incidents/{incident_id}/procedure", json={"step": 9})
    assert refused.status_code == 422 and "4 steps" in refused.json()["detail"]
    assert client.post(f"/api/incidents/{incident_id}/notes", json={"text": "  "}
                       ).status_code == 422


def test_history_filters_and_csv_has_the_same_rows(client: TestClient) -> None:
    school = raise_alarm(client)
    client.post(f"/api/incidents/{school}/notes", json={"text": "Gatekeeper: a pupil"})
    client.post(f"/api/incidents/{school}/resolve", json={"outcome": "false_alarm"})
    hotel = raise_alarm(client, "hotel-01", "corridor-3f-smoke", "smoke")
    client.post(f"/api/incidents/{hotel}/resolve", json={"outcome": "real_fire"})
    raise_alarm(client, "village-01", "assistant-button")  # still open: not history
    everything = client.get("/api/history").json()
    assert [i["id"] for i in everything] == [hotel, school]
    assert [i["id"] for i in client.get("/api/history", params={"venue": "school-01"}
                                        ).json()] == [school]
    assert [i["id"] for i in client.get("/api/history", params={"kind": "smoke"}).json()] == [
        hotel]
    assert [i["id"] for i in client.get("/api/history", params={"q": "PUPIL"}).json()] == [
        school]
    assert client.get("/api/history", params={"from": "2000-01-01", "to": "2000-01-02"}
                      ).json() == []
    response = client.get("/api/history.csv", params={"venue": "school-01"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [(int(r["id"]), r["outcome"]) for r in rows] == [(school, "false_alarm")]
