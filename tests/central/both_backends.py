"""Fixtures that run a test module's storage tests on both backends (issue 16, line 1).

``backend, db, ingestor = both_backends.backend, both_backends.db, both_backends.ingestor``
in a test module replaces the conftest's SQLite-only ``db`` and ``ingestor`` there: each
test runs on the SQLite file and on PostgreSQL through :mod:`central.db.pg_store`.
``client = both_backends.client`` does the same for the in-process app (TestClient), and
``central_config = both_backends.central_config`` for the conftest's ``live_server`` (a
real uvicorn): the
whole service on SQLite, and on PostgreSQL as ``central serve`` runs with
``database_url`` (writer, readers, sessions, leadership, the incident listener).
``db_target`` is the database itself (the SQLite file's path or the PostgreSQL URL), for
a test that opens connections of its own (:func:`central.db.backend.open_database`), and
:func:`committed` reads through a second connection what is committed there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from central_testkit import DEMO_REGISTRY, TEST_BASE_URL, TOPICS, Recorder
from fastapi.testclient import TestClient
from fixtures.auth import add_user, login_testclient
from sqlite_utils import Database

from central.api import create_app
from central.config import CentralConfig
from central.db import open_db
from central.db.backend import open_database
from central.db.pg_store import PgDatabase
from central.ingest import Ingestor
from central.registry import load_registry
from central.snapshots import SnapshotFiles

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """A test of a module on both backends that runs on SQLite alone (a direct
    parametrisation overrides the ``backend`` fixture); ``reason``: why, in one line."""
    assert reason
    return pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_target(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """Where the database of ``backend`` lives: the SQLite file, or a fresh PostgreSQL
    database's URL (``open_database(db_target)`` opens and migrates either)."""
    return db_path if backend == "sqlite" else str(request.getfixturevalue("pg_url"))


def committed(target: Path | str, sql: str) -> int:
    """The integer ``sql`` returns on a second connection: only what is committed."""
    other = open_database(target, query_only=True)
    try:
        return int(other.execute(sql).fetchone()[0])
    finally:
        other.close()


@pytest.fixture
def empty_db(backend: str, db_path: Path, request: pytest.FixtureRequest
             ) -> Iterator[Database]:
    """A fresh, migrated, empty database of ``backend``."""
    if backend == "sqlite":
        database = open_db(db_path)
    else:
        database = cast(Database, PgDatabase.connect(request.getfixturevalue("pg_url")))
    yield database
    database.close()


@pytest.fixture
def db(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The demo registry on a fresh database of ``backend`` (a PgDatabase quacks like one)."""
    if backend == "sqlite":
        database = open_db(db_path)
    else:
        database = cast(Database, PgDatabase.connect(request.getfixturevalue("pg_url")))
    load_registry(database, DEMO_REGISTRY)
    yield database
    database.close()


@pytest.fixture
def ingestor(db: Database, recorder: Recorder, notified: list[dict[str, object]],
             tmp_path: Path) -> Ingestor:
    return Ingestor(db, TOPICS, recorder, notified.append,
                    snapshot_files=SnapshotFiles(tmp_path / "snapshots"))




@pytest.fixture
def client(backend: str, db_path: Path, tmp_path: Path, recorder: Recorder,
           request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """Central's app in TestClient on ``backend`` (publisher = recorder, no MQTT), logged
    in as the admin ``officer-li``."""
    if backend == "sqlite":
        config = CentralConfig(db=db_path, registry=DEMO_REGISTRY)
        add_user(db_path)
    else:
        url = str(request.getfixturevalue("pg_url"))
        config = CentralConfig(database_url=url, data_dir=tmp_path / "data",
                               registry=DEMO_REGISTRY, node_name="test")
        add_user(url)
    with TestClient(create_app(config, publisher=recorder), base_url=TEST_BASE_URL) as test_client:
        login_testclient(test_client)
        yield test_client


@pytest.fixture
def central_config(backend: str, db_target: Path | str, tmp_path: Path) -> CentralConfig:
    """The configuration the conftest's ``live_server`` serves, on ``backend``."""
    if isinstance(db_target, Path):
        return CentralConfig(db=db_target, registry=DEMO_REGISTRY)
    return CentralConfig(database_url=db_target, data_dir=tmp_path / "data",
                         registry=DEMO_REGISTRY, node_name="test")
