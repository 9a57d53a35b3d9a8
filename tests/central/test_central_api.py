"""HTTP API through FastAPI's TestClient: incidents, actions, 404/409/422, info."""

from __future__ import annotations

import both_backends
from central_testkit import TOPICS, Recorder, event_message, make_event
from fastapi.testclient import TestClient

from alarmlink.wire import Heartbeat, Stage, Status, encode, utcnow
from central.service import CentralService

# the API tests here run on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend, client = both_backends.backend, both_backends.client


def service(client: TestClient) -> CentralService:
    central: CentralService = client.app.state.central  # type: ignore[attr-defined]
    return central


def raise_alarm(client: TestClient, device: str = "school-01", zone: str = "gate-button",
                **kw: object) -> str:
    event = make_event(device, zone=zone, **kw)  # type: ignore[arg-type]
    service(client).ingestor.handle(*event_message(event))
    return event.event_id


def test_list_get_and_filter_incidents(client: TestClient) -> None:
    raise_alarm(client)
    raise_alarm(client, "village-01", "workshop-a-smoke", kind="smoke")
    raise_alarm(client, test=True)
    all_open = client.get("/api/incidents").json()
    assert [i["venue_id"] for i in all_open] == ["village-01", "school-01"]
    dading = client.get("/api/incidents", params={"station": "dading"}).json()
    assert [i["venue_id"] for i in dading] == ["village-01"]
    assert client.get("/api/incidents", params={"category": "trouble"}).json() == []
    detail = client.get(f"/api/incidents/{all_open[1]['id']}").json()
    assert detail["incident"]["zones"] == {"gate-button": "alarm"}
    assert [e["zone"] for e in detail["events"]] == ["gate-button"]
    assert detail["log"][0]["action"] == "opened"


def test_acknowledge_dispatch_resolve_send_receipts(client: TestClient,
                                                    recorder: Recorder) -> None:
    event_id = raise_alarm(client)
    response = client.post("/api/incidents/1/acknowledge", json={})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "acknowledged"
    assert client.post("/api/incidents/1/dispatch",
                       json={"note": "brigade"}).status_code == 200
    resolved = client.post("/api/incidents/1/resolve",
                           json={"outcome": "real_fire"})
    assert resolved.json()["outcome"] == "real_fire"
    assert recorder.stages(event_id) == [Stage.STORED, Stage.ACKNOWLEDGED, Stage.DISPATCHED,
                                         Stage.RESOLVED]
    last = recorder.receipts("school-01")[-1]
    assert last.by == "officer-li" and last.outcome == "real_fire"
    assert client.get("/api/incidents").json() == []
    assert len(client.get("/api/incidents", params={"status": "all"}).json()) == 1


def test_errors_are_404_409_and_clear_422(client: TestClient) -> None:
    assert client.get("/api/incidents/42").status_code == 404
    missing = client.post("/api/incidents/42/acknowledge", json={})
    assert missing.status_code == 404 and "does not exist" in missing.json()["detail"]
    raise_alarm(client)
    client.post("/api/incidents/1/acknowledge", json={})
    again = client.post("/api/incidents/1/acknowledge", json={})
    assert again.status_code == 409 and "acknowledged" in again.json()["detail"]
    # who acts comes from the session only: a body naming an officer is refused
    named = client.post("/api/incidents/1/dispatch", json={"actor": "officer-wang"})
    assert named.status_code == 422 and "body.actor" in named.json()["message"]
    bad_outcome = client.post("/api/incidents/1/resolve",
                              json={"outcome": "aliens"})
    assert bad_outcome.status_code == 422 and "body.outcome" in bad_outcome.json()["message"]
    assert client.get("/api/incidents", params={"status": "bogus"}).status_code == 422


def test_devices_stations_dead_letters_health_openapi(client: TestClient) -> None:
    ingestor = service(client).ingestor
    ingestor.handle(TOPICS.status("hotel-01"), encode(Status(state="online", ts=utcnow(),
                                                             version="0.1.0")))
    ingestor.handle(TOPICS.heartbeat("hotel-01"), encode(
        Heartbeat(ts=utcnow(), uptime_s=5, outbox_depth=0)))
    ingestor.handle(TOPICS.event("school-01"), b"\xff garbage")
    devices = {d["device_id"]: d for d in client.get("/api/devices").json()}
    assert devices["hotel-01"]["online"] is True and devices["hotel-01"]["version"] == "0.1.0"
    assert devices["hotel-01"]["last_heartbeat"] is not None
    assert devices["school-01"]["online"] is False and devices["school-01"]["availability"] is None
    assert devices["village-01"]["station_id"] == "dading"
    stations = client.get("/api/stations").json()
    assert [(s["id"], s["venues"]) for s in stations] == [("chengxiang", 2), ("dading", 1)]
    (dead,) = client.get("/api/dead-letters").json()
    assert "not valid UTF-8 JSON" in dead["reason"] and dead["payload_size"] == 9
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["mqtt"] == "disabled"
    schema = client.get("/openapi.json").json()
    assert "/api/incidents/{incident_id}/resolve" in schema["paths"]
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert client.get("/static/console.js").status_code == 200


def test_device_list_pages_by_id_with_a_cursor(client: TestClient) -> None:
    """GET /api/devices?limit=N pages the board (issue 17); X-Next-After is the cursor."""
    everything = [d["device_id"] for d in client.get("/api/devices").json()]
    assert len(everything) >= 3 and everything == sorted(everything)
    seen: list[str] = []
    after = None
    for _ in range(len(everything) + 1):
        answer = client.get("/api/devices", params={"limit": 2, **({"after": after}
                                                                    if after else {})})
        assert answer.status_code == 200
        page = [d["device_id"] for d in answer.json()]
        assert len(page) <= 2 and "online" in answer.json()[0]
        seen += page
        after = answer.headers.get("x-next-after")
        if after is None:
            break
    assert seen == everything
    assert client.get("/api/devices", params={"limit": 0}).status_code == 422


def test_nothing_is_loaded_from_outside_the_station_network(client: TestClient) -> None:
    """Air-gapped stations: no CDN-backed docs pages, no external URL in any asset."""
    import re

    from central.api import STATIC_DIR

    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200
    # Vendored Leaflet names the SVG namespace (an identifier, never fetched) and two bug
    # trackers in CSS comments; the browser tests record every request the page makes.
    not_fetched = ("http://www.w3.org/2000/svg", "https://bugs.chromium.org/",
                   "https://bugzilla.mozilla.org/")
    # licence texts (OFL.txt, LICENSE) are read by people, never loaded by the page
    for asset in STATIC_DIR.rglob("*"):
        if asset.is_file() and asset.suffix not in (".txt", ".md") and \
                not asset.name.upper().startswith("LICENSE"):
            text = asset.read_text(errors="replace")
            if "vendor" in asset.parts:
                for identifier in not_fetched:
                    text = text.replace(identifier, "")
            assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), asset
