"""Every operation of central's API, generated from its own OpenAPI schema, never 5xx.

Schemathesis loads ``/openapi.json`` from a running central (a real uvicorn on a
loopback port, its own SQLite file, no MQTT) and sends each operation
``MAX_EXAMPLES`` generated requests, valid and invalid; the ``not_a_server_error``
check fails the test on any 5xx. The same runs against central on PostgreSQL with
``PG_EXAMPLES`` requests per operation (every route's SQL on the other backend; the
login, whose cost is argon2's and not the database's, only on SQLite).

Authentication: every request goes out logged in as an admin (:func:`api_auth`: a
fresh session cookie and its ``X-CSRF-Token`` per operation, so an operation that logs
out or fails logins cannot starve the next one). The per-address login rate limit is
raised for this run: schemathesis sends many wrong logins from 127.0.0.1 on purpose.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from both_backends import BACKENDS
from central_testkit import DEMO_REGISTRY, Recorder
from fixtures.auth import add_user, login
from helpers import wait_for
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from alarmlink.broker import free_port
from central.api import create_app
from central.config import CentralConfig

#: Examples per operation: enough to hit every parameter's edge, under a minute on 2 cores.
MAX_EXAMPLES = 40
PG_EXAMPLES = 5
#: Requests per operation, by the served central's URL.
EXAMPLES: dict[str, int] = {}


@dataclass
class ApiAuth:
    """What every generated request carries to be let in."""

    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module", params=BACKENDS)
def api_url(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
            ) -> Iterator[str]:
    """Central's app on a real uvicorn for the whole module (one database of each
    backend)."""
    work: Path = tmp_path_factory.mktemp("schemathesis")
    where: dict[str, object] = {"db": work / "central.db"}
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        where = {"database_url": server.url(server.migrated_database()),
                 "data_dir": work / "data", "node_name": "schemathesis"}
    target = where.get("database_url") or where["db"]
    add_user(target)  # type: ignore[arg-type]  # the admin every request is sent as
    config = CentralConfig.model_validate({
        **where, "registry": DEMO_REGISTRY,
        "auth": {"source_failures": 1_000_000, "lockout_failures": 1_000_000}})
    app = create_app(config, publisher=Recorder())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-schemathesis", daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), what="uvicorn start")
    assert server.started, "uvicorn did not start"
    try:
        url = f"http://127.0.0.1:{port}"
        EXAMPLES[url] = MAX_EXAMPLES if request.param == "sqlite" else PG_EXAMPLES
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def api_auth(api_url: str) -> ApiAuth:
    """A fresh admin session for each operation."""
    session = login(api_url)
    return ApiAuth(headers={"X-CSRF-Token": session.csrf},
                   cookies={"alarmlink_session": session.token})


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api_url}/openapi.json")


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation, from the app's schema (no server needed)."""
    spec = create_app(CentralConfig(db=Path("unused.db"))).openapi()
    return [(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in ("get", "post", "put", "patch", "delete")]


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda value: str(value))
def test_no_operation_answers_5xx(api_url: str, api_schema: schemathesis.BaseSchema,
                                  api_auth: ApiAuth,
                                  method: str, path: str) -> None:
    if path == "/api/login" and EXAMPLES[api_url] != MAX_EXAMPLES:
        pytest.skip("the login's cost is argon2's, not the database's: fuzzed on SQLite")
    operation = api_schema[path][method]

    @settings(max_examples=EXAMPLES[api_url], deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=api_auth.headers, cookies=api_auth.cookies, timeout=30)
        statuses.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    statuses: list[int] = []
    run()
    # the session really let the requests in (a run of 401s would prove nothing);
    # a login with generated credentials is rightly refused
    if path != "/api/login":
        assert any(status != 401 for status in statuses), (method, path, statuses[:10])
