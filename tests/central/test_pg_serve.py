"""Issue 16: `alarmlink central serve` on PostgreSQL (config ``database_url``).

A real central process on a private PostgreSQL cluster and Mosquitto: a device's event is
stored, becomes an incident, is pushed to a logged-in console and acted on through the
API; the login session lives in the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.broker import running_mosquitto
from fixtures.central_pg import NODE_USERS, PgCentralProcess
from helpers import TEST_DEVICES, device_user, wait_for
from resending_device import Device
from websockets.sync.client import connect as ws_connect

from alarmlink.broker import MosquittoBroker

pytestmark = [pytest.mark.broker, pytest.mark.postgres]


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    with running_mosquitto([*NODE_USERS, *map(device_user, TEST_DEVICES)]) as running:
        yield running


def test_central_serves_on_postgresql(tmp_path: Path, broker: MosquittoBroker,
                                      pg_url: str) -> None:
    node = PgCentralProcess(tmp_path / "node-1", broker, NODE_USERS[0], pg_url, "node-1")
    device: Device | None = None
    try:
        node.start()
        health = node.api("GET", "/healthz")
        assert (health["database"], health["node"]) == ("postgresql", "node-1"), health
        wait_for(lambda: node.api("GET", "/healthz")["role"] == "leader", what="leadership")
        with ws_connect(node.ws_url, additional_headers=node.ws_headers,
                        open_timeout=10) as ws:
            device = Device(broker, "school-01")
            event_id = device.send(1)
            wait_for(lambda: not device.outbox, timeout=30, what="stored receipt")
            pushed = {}
            while not pushed.get("incident"):
                message = json.loads(ws.recv(timeout=10))
                if message.get("type") == "incident":
                    pushed = message
        incident_id = pushed["incident"]["id"]
        rows = node.rows("SELECT incident_id FROM events WHERE event_id = %s", (event_id,))
        assert rows == [{"incident_id": incident_id}]
        listed = node.api("GET", "/api/incidents")
        assert [i["id"] for i in listed] == [incident_id], listed
        done = node.api("POST", f"/api/incidents/{incident_id}/acknowledge", {})
        assert done["status"] == "acknowledged"
        assert node.rows("SELECT count(*) AS n FROM sessions")[0]["n"] >= 1
    finally:
        if device is not None:
            device.close()
        node.stop()
