"""Issue 16: `alarmlink central serve` on PostgreSQL (config ``database_url``), two nodes.

Real central processes on a private PostgreSQL cluster and Mosquitto: a device's event is
stored and becomes an incident pushed to a logged-in console; an officer acts on it
through the API of the *other* node, and the change reaches the first console through
PostgreSQL NOTIFY (a node's own pushes never cross to another node). Login sessions live
in the database, so either node serves either officer. ``/healthz`` names each node, its
role (one leader) and the backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.broker import running_mosquitto
from fixtures.central_pg import NODE_USERS, PgCentralProcess
from helpers import TEST_DEVICES, device_user, wait_for
from resending_device import Device
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from alarmlink.broker import MosquittoBroker

pytestmark = [pytest.mark.broker, pytest.mark.postgres]


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    with running_mosquitto([*NODE_USERS, *map(device_user, TEST_DEVICES)]) as running:
        yield running



@pytest.fixture
def pg_url(pg_empty_url: str) -> str:
    """An empty database: the first node's start migrates it, as on a new deployment."""
    return pg_empty_url

def next_incident(ws: ClientConnection, status: str) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message.get("type") == "incident" and message["incident"]["status"] == status:
            return message["incident"]  # type: ignore[no-any-return]


def test_two_nodes_on_postgresql_share_incidents_sessions_and_one_leader(
        tmp_path: Path, broker: MosquittoBroker, pg_url: str) -> None:
    nodes = [PgCentralProcess(tmp_path / f"node-{n}", broker, NODE_USERS[n - 1], pg_url,
                              f"node-{n}") for n in (1, 2)]
    first, second = nodes
    device: Device | None = None
    try:
        first.start()
        wait_for(lambda: first.api("GET", "/healthz")["role"] == "leader", what="a leader")
        second.start()
        health = [node.api("GET", "/healthz") for node in nodes]
        assert [(h["node"], h["role"], h["database"]) for h in health] == [
            ("node-1", "leader", "postgresql"), ("node-2", "follower", "postgresql")], health
        with ws_connect(first.ws_url, additional_headers=first.ws_headers,
                        open_timeout=10) as ws:
            device = Device(broker, "school-01")
            event_id = device.send(1)
            wait_for(lambda: not device.outbox, timeout=30, what="stored receipt")
            incident = next_incident(ws, "new")
            rows = first.rows("SELECT incident_id FROM events WHERE event_id = ?",
                              (event_id,))
            assert [dict(r) for r in rows] == [{"incident_id": incident["id"]}]
            # node-1's login session works on node-2: sessions live in the database
            listed = second.api("GET", "/api/incidents", session=first.session)
            assert [i["id"] for i in listed] == [incident["id"]], listed
            done = second.api("POST", f"/api/incidents/{incident['id']}/acknowledge", {},
                              session=first.session)
            assert done["status"] == "acknowledged"
            pushed = next_incident(ws, "acknowledged")  # from node-2, through NOTIFY
            assert (pushed["id"], pushed["acknowledged_by"]) == (incident["id"], "officer-li")
    finally:
        if device is not None:
            device.close()
        for node in nodes:
            node.stop()


def test_a_node_that_loses_its_database_connection_exits_for_its_service_manager(
        tmp_path: Path, broker: MosquittoBroker, pg_url: str) -> None:
    import psycopg

    node = PgCentralProcess(tmp_path / "node-1", broker, NODE_USERS[0], pg_url, "node-1")
    try:
        node.start()
        with psycopg.connect(pg_url, autocommit=True) as admin:  # PostgreSQL drops us
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "datname = current_database() AND pid <> pg_backend_pid()")
        assert node.proc is not None
        assert node.proc.wait(30) == 3  # EXIT_DATABASE_LOST: systemd restarts it
        assert "lost its PostgreSQL connection" in node.log.read_text()
        node.proc = None
    finally:
        node.stop()
