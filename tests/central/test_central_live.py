"""Live push over a real WebSocket: snapshot first, then updates, per station (the served
central on SQLite and on PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import both_backends
import httpx
from central_testkit import LiveServer, event_message, make_event
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from central.live import CLIENT_QUEUE_SIZE, LiveHub, _Client

backend, db_target = both_backends.backend, both_backends.db_target
central_config = both_backends.central_config

TIMEOUT = 10


def recv(ws: Connection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=TIMEOUT))
    return message


def alarm(server: LiveServer, device: str = "school-01", zone: str = "gate-button",
          **kw: Any) -> None:
    server.service.ingestor.handle(*event_message(make_event(device, zone=zone, **kw)))


def test_snapshot_then_updates_for_one_station(live_server: LiveServer) -> None:
    with connect(live_server.ws_url + "?station=chengxiang",
                 additional_headers=live_server.session.cookie) as ws:
        assert recv(ws) == {"type": "snapshot", "incidents": []}
        alarm(live_server)
        first = recv(ws)
        assert first["type"] == "incident"
        assert first["incident"]["venue_name"] == "Chengxiang Central Primary School"
        assert first["incident"]["zones"] == {"gate-button": "alarm"}
        alarm(live_server, "village-01", "square-button")  # another station's venue
        alarm(live_server, test=True)  # test events never reach officers
        alarm(live_server, "hotel-01", "lobby-button")
        second = recv(ws)
        assert second["incident"]["venue_id"] == "hotel-01", "village or test leaked through"
        response = httpx.post(f"{live_server.url}/api/incidents/{first['incident']['id']}"
                              "/acknowledge", json={}, headers=live_server.headers)
        assert response.status_code == 200
        # other pushes of these incidents (escalation started, a frame) may come first;
        # every one stays within the station, and the acknowledgement arrives
        while True:
            update = recv(ws)["incident"]
            assert update["station_id"] == "chengxiang"
            if update["id"] == first["incident"]["id"] and update["status"] != "new":
                break
        assert update["status"] == "acknowledged"
        assert update["version"] > first["incident"]["version"]


def test_late_console_gets_open_incidents_first(live_server: LiveServer) -> None:
    alarm(live_server)
    alarm(live_server, "village-01", "square-button")
    with connect(live_server.ws_url, additional_headers=live_server.session.cookie) as ws:
        snapshot = recv(ws)
        assert snapshot["type"] == "snapshot"
        assert {i["venue_id"] for i in snapshot["incidents"]} == {"school-01", "village-01"}
    with connect(live_server.ws_url + "?station=dading",
                 additional_headers=live_server.session.cookie) as ws:
        assert [i["venue_id"] for i in recv(ws)["incidents"]] == ["village-01"]


def test_slow_console_is_dropped_and_others_still_served() -> None:
    async def scenario() -> tuple[_Client, _Client, int]:
        hub = LiveHub()
        hub.bind(asyncio.get_running_loop())
        slow, fast = _Client(None), _Client(None)
        hub._clients |= {slow, fast}
        for n in range(CLIENT_QUEUE_SIZE + 1):
            hub.broadcast({"id": n, "station_id": "x"})
            if not fast.queue.empty():
                fast.queue.get_nowait()  # the fast console keeps up
        return slow, fast, hub.client_count

    slow, fast, remaining = asyncio.run(scenario())
    assert slow.dropped and not fast.dropped and remaining == 1
    assert slow.queue.get_nowait() is None  # the sender is told to close the socket


def test_a_frame_goes_only_to_consoles_that_see_its_incident_and_may_see_pictures() -> None:
    from central.live import Scope

    async def scenario() -> dict[str, list[dict[str, Any]]]:
        hub = LiveHub()
        hub.bind(asyncio.get_running_loop())
        clients = {
            "same station": _Client("chengxiang"),
            "every station": _Client(None),
            "other station": _Client("dading"),
            "other venue": _Client(None, Scope(venues=frozenset({"hotel-01"}))),
            "no pictures": _Client(None, Scope(frames=False)),
        }
        hub._clients |= set(clients.values())
        hub.submit_frame_threadsafe({"id": 7, "incident_id": 3, "station_id": "chengxiang",
                                     "venue_id": "school-01", "url": "/api/snapshots/7.jpg"})
        await asyncio.sleep(0)   # let the loop run the handed-over call
        return {name: [c.queue.get_nowait() for _ in range(c.queue.qsize())]
                for name, c in clients.items()}

    got = asyncio.run(scenario())
    frame = {"type": "frame", "frame": {"id": 7, "incident_id": 3, "station_id": "chengxiang",
                                        "venue_id": "school-01", "url": "/api/snapshots/7.jpg"}}
    assert got == {"same station": [frame], "every station": [frame], "other station": [],
                   "other venue": [], "no pictures": []}
