"""The FastAPI app: lifespan, routers, the console WebSocket and the static console.

The lifespan builds the :class:`~central.service.CentralService` off the event
loop (database, migrations, registry), starts the MQTT bridge and binds the
live hub to the server's event loop. OpenAPI is at ``/openapi.json``.

Every endpoint is ``async def`` and awaits the service's writer (writes, one
thread) or readers (queries): the event loop never waits for SQLite, so a slow
commit or a database locked by another process stalls only the requests that
need it, never the consoles' WebSockets or ``/healthz``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from alarmlink import __version__
from alarmlink.config_base import describe_error_list
from central import incidents
from central.api.audit import router as audit_router
from central.api.auth import router as auth_router
from central.api.av import router as av_router
from central.api.commissioning import router as commissioning_router
from central.api.console import router as console_router
from central.api.deps import lookup_session, origin_allowed
from central.api.devices import router as devices_router
from central.api.edge import install_edge
from central.api.health import router as health_router
from central.api.incidents import router as incidents_router
from central.api.management import router as management_router
from central.api.management_cases import router as management_cases_router
from central.api.management_lists import router as management_lists_router
from central.api.management_org import router as management_org_router
from central.api.recordings import router as recordings_router
from central.api.roster import router as roster_router
from central.api.snapshots import router as snapshots_router
from central.api.users import router as users_router
from central.config import CentralConfig
from central.ingest import Clock, Publish
from central.live import Scope
from central.service import CentralService

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(config: CentralConfig, *, publisher: Publish | None = None,
               clock: Clock | None = None) -> FastAPI:
    """The FastAPI app. ``publisher`` (tests, tools) replaces the MQTT bridge."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kwargs: dict[str, Any] = {"publisher": publisher}
        if clock is not None:
            kwargs["clock"] = clock
        service = await asyncio.to_thread(CentralService, config, **kwargs)
        app.state.central = service
        service.start(asyncio.get_running_loop())
        try:
            await service.start_receiver()
            yield
        finally:
            await service.stop()

    # No /docs or /redoc: FastAPI's pages load Swagger UI from a CDN, and stations are
    # often air-gapped. The schema itself is at /openapi.json.
    app = FastAPI(title="alarmlink central", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Venue alarms routed to police station duty officers.")
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(sqlite3.IntegrityError, _integrity_error)  # type: ignore[arg-type]
    app.add_exception_handler(OverflowError, _out_of_range)  # type: ignore[arg-type]
    install_edge(app, config.http)
    for router in (auth_router, users_router, incidents_router, devices_router,
                   health_router, snapshots_router, commissioning_router, audit_router,
                   console_router, roster_router, management_router,
                   management_cases_router, management_lists_router,
                   management_org_router, av_router,
                   recordings_router):
        app.include_router(router)

    @app.websocket("/ws")
    async def live(websocket: WebSocket, station: str | None = None) -> None:
        """The console's live push: a session and an allowed Origin, else refused."""
        service: CentralService = websocket.app.state.central
        if not origin_allowed(websocket, service.config.auth):
            logger.warning("console WebSocket from foreign origin %s refused",
                           websocket.headers.get("origin"))
            await websocket.send_denial_response(JSONResponse(
                {"detail": "cross-origin WebSocket refused"}, status_code=403))
            return
        session = await lookup_session(service, websocket)
        if session is None:
            await websocket.send_denial_response(JSONResponse(
                {"detail": "login required"}, status_code=401))
            return
        principal = session.principal
        if not principal.may("incident.read"):
            await websocket.send_denial_response(JSONResponse(
                {"detail": f"your role {principal.role} may not read incidents"},
                status_code=403))
            return

        async def snapshot(station_id: str | None) -> list[dict[str, Any]]:
            return await service.readers.run(
                incidents.list_incidents, station=station_id,
                stations=principal.station_filter,
                venues=None if principal.venues is None else sorted(principal.venues))

        async def alive() -> bool:
            return await lookup_session(service, websocket) is not None

        await service.hub.serve(websocket, station or None, snapshot,
                                scope=Scope(principal.stations, principal.venues,
                                            frames=principal.may("snapshot.read")),
                                alive=alive)

    @app.get("/", include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


async def _integrity_error(request: Request, exc: sqlite3.IntegrityError) -> JSONResponse:
    """409, not 500, for a request the database's constraints refuse (an id that names
    nothing, a duplicate): the last line of defence behind each route's own checks."""
    logger.warning("%s %s refused by the database: %s", request.method, request.url.path, exc)
    return JSONResponse(status_code=409, content={
        "detail": f"refused by the database ({exc}): check that every id in the request "
                  "names an existing record and that it is not a duplicate"})


async def _out_of_range(request: Request, exc: OverflowError) -> JSONResponse:
    """422 for a number the database cannot hold (ids are 64-bit integers)."""
    logger.warning("%s %s: number out of range: %s", request.method, request.url.path, exc)
    return JSONResponse(status_code=422, content={
        "detail": "a number in the request is out of range: ids and counts are at most "
                  "9223372036854775807"})


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with FastAPI's usual ``detail`` list plus one readable ``message``."""
    parts = describe_error_list(exc.errors())
    return JSONResponse(status_code=422, content={
        "detail": [{k: v for k, v in e.items() if k in ("loc", "msg", "type")}
                   for e in exc.errors()],
        "message": "; ".join(parts)})
