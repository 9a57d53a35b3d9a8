"""Fixtures for central's tests: a fresh database file with the demo registry."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from helpers import wait_for

# The suite runs with --import-mode=importlib: make this directory's helper importable.
if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))

from central_testkit import DEMO_REGISTRY, TEST_BASE_URL, TOPICS, LiveServer, Recorder  # noqa: E402
from fixtures.auth import add_user, login, login_testclient  # noqa: E402
from sqlite_utils import Database  # noqa: E402

from alarmlink.broker import free_port
from central.api import create_app
from central.config import CentralConfig
from central.db import open_db
from central.ingest import Ingestor
from central.registry import load_registry


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "central.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    """A fresh database file with migrations applied and the demo registry loaded."""
    database = open_db(db_path)
    load_registry(database, DEMO_REGISTRY)
    yield database
    database.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def notified() -> list[dict[str, object]]:
    return []


@pytest.fixture
def ingestor(db: Database, recorder: Recorder, notified: list[dict[str, object]]) -> Ingestor:
    return Ingestor(db, TOPICS, recorder, notified.append)


@pytest.fixture
def client(db_path: Path, recorder: Recorder) -> Iterator[TestClient]:
    """Central's app in FastAPI's TestClient (in process; publisher = recorder, no MQTT),
    logged in as the admin ``officer-li`` (cookie kept, X-CSRF-Token sent)."""
    config = CentralConfig(db=db_path, registry=DEMO_REGISTRY)
    add_user(db_path)
    with TestClient(create_app(config, publisher=recorder), base_url=TEST_BASE_URL) as test_client:
        login_testclient(test_client)
        yield test_client


@pytest.fixture
def central_config(db_path: Path) -> CentralConfig:
    """The configuration ``live_server`` serves; a module may override this fixture."""
    return CentralConfig(db=db_path, registry=DEMO_REGISTRY)


@pytest.fixture
def live_server(central_config: CentralConfig, recorder: Recorder) -> Iterator[LiveServer]:
    """Central's app served by a real uvicorn on a loopback port, in this process
    (publisher = recorder, no MQTT); ``session`` is the admin ``officer-li`` logged in."""
    add_user(central_config.db_target)
    app = create_app(central_config, publisher=recorder)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), what="uvicorn start")
    assert server.started, "uvicorn did not start"
    try:
        url = f"http://127.0.0.1:{port}"
        yield LiveServer(url, app, recorder, login(url))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
