"""Fixtures that run a test module's storage tests on both backends (issue 16, line 1).

``from both_backends import backend, db, ingestor`` in a test module replaces the
conftest's SQLite-only ``db`` and ``ingestor`` there: each test runs on the SQLite file
central serves from and on PostgreSQL through :mod:`central.db.pg_store` (as the ingest
workers use it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from central_testkit import DEMO_REGISTRY, TOPICS, Recorder
from sqlite_utils import Database

from central.db import open_db
from central.db.pg_store import PgDatabase
from central.ingest import Ingestor
from central.registry import load_registry
from central.snapshots import SnapshotFiles

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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


