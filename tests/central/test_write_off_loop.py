"""An API write that waits for the database never freezes the event loop (both backends).

Another connection holds the database's write lock (as a CLI tool, a backup or
a slow fsync would; on PostgreSQL a lock on the incidents table that still lets reads
through). An officer acknowledges an incident: that request must
wait, but while it waits ``/healthz`` answers, the console WebSocket keeps
delivering (a ping comes back as a pong through the push queue), a new console
gets its snapshot and reads answer. When the lock goes, the acknowledgement
completes, its receipts are published and the change is pushed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import both_backends
import httpx
import pytest
import uvicorn
from central_testkit import DEMO_REGISTRY, Recorder, event_message, make_event
from fastapi import FastAPI
from fixtures.auth import Session, add_user, login
from helpers import wait_for
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from alarmlink.broker import free_port
from central.api import create_app
from central.config import CentralConfig

backend, db_target = both_backends.backend, both_backends.db_target

#: How long /healthz, a pong or a read may take while the write is stalled. The old
#: code blocked the loop for SQLite's whole busy timeout (15 s).
ANSWER_WITHIN_S = 3.0
TIMEOUT = 20.0


@dataclass
class Arrivals:
    """Requests that have reached the app (seen by the outermost middleware)."""

    seen: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def has(self, method: str, path: str) -> bool:
        with self.lock:
            return (method, path) in self.seen


class NoteArrivals:
    """Pure ASGI middleware: notes each HTTP request before the app handles it."""

    def __init__(self, app: ASGIApp, arrivals: Arrivals) -> None:
        self.app = app
        self.arrivals = arrivals

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            with self.arrivals.lock:
                self.arrivals.seen.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


@dataclass
class Server:
    url: str
    app: FastAPI
    arrivals: Arrivals
    recorder: Recorder
    session: Session

    def ingest(self, topic: str, payload: bytes) -> None:
        """As if the MQTT thread delivered it (returns after the commit)."""
        self.app.state.central.ingestor.handle(topic, payload)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"


@pytest.fixture(name="srv")
def server_fixture(db_target: Path | str, recorder: Recorder, tmp_path: Path
                   ) -> Iterator[Server]:
    """Central in a real uvicorn on a loopback port, with a real SQLite file or PostgreSQL."""
    add_user(db_target)
    if isinstance(db_target, Path):
        config = CentralConfig(db=db_target, registry=DEMO_REGISTRY)
    else:
        config = CentralConfig(database_url=db_target, data_dir=tmp_path / "data",
                               registry=DEMO_REGISTRY, node_name="test")
    app = create_app(config, publisher=recorder)
    arrivals = Arrivals()
    app.add_middleware(NoteArrivals, arrivals=arrivals)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                       lifespan="on"))
    thread = threading.Thread(target=uv.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: uv.started or not thread.is_alive(), what="uvicorn start")
    assert uv.started, "uvicorn did not start"
    try:
        url = f"http://127.0.0.1:{port}"
        yield Server(url, app, arrivals, recorder, login(url))
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


class WriteLock:
    """Another connection holding the write lock central's acknowledgement needs."""

    def __init__(self, target: Path | str) -> None:
        self.sqlite: sqlite3.Connection | None = None
        self.pg: Any = None
        if isinstance(target, Path):
            self.sqlite = sqlite3.connect(target, isolation_level=None)
            self.sqlite.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            self.pg = psycopg.connect(target, autocommit=True)
            self.pg.execute("BEGIN")
            self.pg.execute("LOCK TABLE incidents IN EXCLUSIVE MODE")  # reads still pass

    def release(self) -> None:
        conn = self.sqlite or self.pg
        conn.execute("ROLLBACK")

    def close(self) -> None:
        (self.sqlite or self.pg).close()


def recv(ws: Connection, timeout: float = TIMEOUT) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def test_a_stalled_write_leaves_health_and_consoles_alive(srv: Server,
                                                         db_target: Path | str) -> None:
    event = make_event("school-01", zone="gate-button")
    srv.ingest(*event_message(event))
    [incident] = httpx.get(f"{srv.url}/api/incidents", headers=srv.session.headers).json()
    ack_path = f"/api/incidents/{incident['id']}/acknowledge"

    with connect(srv.ws_url, additional_headers=srv.session.cookie) as console, \
            ThreadPoolExecutor(1) as pool:
        assert [i["id"] for i in recv(console)["incidents"]] == [incident["id"]]

        blocker = WriteLock(db_target)  # the write lock, held by someone else
        released = False
        try:
            ack: Future[httpx.Response] = pool.submit(
                httpx.post, srv.url + ack_path, json={}, timeout=60,
                headers=srv.session.headers)
            wait_for(lambda: srv.arrivals.has("POST", ack_path), what="the acknowledgement "
                     "to reach central")

            # (a) health answers while the write waits for the lock
            try:
                health = httpx.get(f"{srv.url}/healthz", timeout=ANSWER_WITHIN_S)
            except httpx.TimeoutException:
                pytest.fail(f"/healthz did not answer within {ANSWER_WITHIN_S} s while an API "
                            "write waited for the database: the write blocks the event loop")
            assert health.json()["db"] == "ok"
            assert health.json()["writes_pending"] >= 1, "the write is not waiting on the writer"

            # (b) the console's push path still delivers: ping -> pong through its queue
            console.send(json.dumps({"type": "ping", "id": "while-stalled"}))
            try:
                pong = recv(console, timeout=ANSWER_WITHIN_S)
                while pong.get("type") == "incident":  # an earlier push of the incident
                    pong = recv(console, timeout=ANSWER_WITHIN_S)
            except TimeoutError:
                pytest.fail("the console WebSocket delivered nothing while a write was stalled")
            assert pong == {"type": "pong", "id": "while-stalled"}

            # (c) a console that connects now gets its snapshot; reads answer
            with connect(srv.ws_url, additional_headers=srv.session.cookie) as late:
                snapshot = recv(late, timeout=ANSWER_WITHIN_S)
                assert [i["status"] for i in snapshot["incidents"]] == ["new"]
            detail = httpx.get(f"{srv.url}/api/incidents/{incident['id']}",
                               timeout=ANSWER_WITHIN_S, headers=srv.session.headers).json()
            assert detail["incident"]["status"] == "new"
            assert not ack.done(), "the acknowledgement did not wait for the write lock"
            assert "acknowledged" not in srv.recorder.stages(event.event_id), \
                "a receipt went out before the commit"

            blocker.release()
            released = True
            response = ack.result(timeout=TIMEOUT)
        finally:
            if not released:
                blocker.release()
            blocker.close()

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "acknowledged"
        pushed = recv(console)
        assert pushed["type"] == "incident"
        assert (pushed["incident"]["id"], pushed["incident"]["status"]) == (
            incident["id"], "acknowledged")
    detail = httpx.get(f"{srv.url}/api/incidents/{incident['id']}",
                       headers=srv.session.headers).json()
    assert detail["incident"]["acknowledged_by"] == "officer-li"
    # (escalation may log its stop after the acknowledgement that stopped it)
    assert [e["action"] for e in detail["log"] if e["action"] != "escalation_stopped"][-1] \
        == "acknowledge"
    wait_for(lambda: "acknowledged" in srv.recorder.stages(event.event_id),
             what="the acknowledged receipt to the device")


def test_escalation_pushes_leave_in_the_writers_order(srv: Server) -> None:
    """An escalation pass re-reads the incidents it touched and pushes them. The read and
    the hand-over are one writer job, so that push is ordered with every other write's
    (an officer's acknowledgement pushes from the writer too). Before, the escalation
    thread read through the writer and pushed on its own: a copy read just before an
    acknowledgement could reach a console after it (CI saw ``new`` after the ack)."""
    event = make_event("school-01", zone="gate-button")
    srv.ingest(*event_message(event))
    service = srv.app.state.central
    [incident] = httpx.get(f"{srv.url}/api/incidents", headers=srv.session.headers).json()
    on_writer: list[bool] = []
    real_submit = service.hub.submit_threadsafe

    def noting_submit(pushed: dict[str, Any]) -> None:
        if pushed["id"] == incident["id"]:
            on_writer.append(service.writer.on_writer_thread())
        real_submit(pushed)

    service.hub.submit_threadsafe = noting_submit
    try:
        assert service.escalator.on_change is not None
        service.escalator.on_change([incident["id"]])  # as the escalation thread calls it
    finally:
        service.hub.submit_threadsafe = real_submit
    assert on_writer and all(on_writer), \
        "the escalation's push was handed over off the writer thread"
