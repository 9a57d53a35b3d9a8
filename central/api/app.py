"""Central's HTTP API, WebSocket and console. :func:`create_app` builds it.

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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlite_utils import Database

from alarmlink import __version__
from alarmlink.config_base import describe_error_list
from alarmlink.wire import Outcome
from central import incidents, registry
from central.api.commissioning import add_commissioning_routes
from central.api.models import (
    ActionBody,
    CommandBody,
    CommandView,
    DeadLetter,
    DeviceInfo,
    Health,
    Incident,
    IncidentDetail,
    ResolveBody,
    StationInfo,
)
from central.api.snapshots import add_snapshot_routes
from central.config import CentralConfig
from central.dead_letters import list_dead_letters
from central.ingest import Clock, Publish
from central.service import CentralService

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def acting_officer(request: Request, body: ActionBody) -> str:
    """Who is acting. The ONE place that decides it.

    Today the console sends the officer's id in the body. When login and
    roles arrive, this derives the officer from the session and checks that
    they may act for the incident's station.
    """
    del request  # the session will live here
    return body.actor


def _service(request: Request) -> CentralService:
    service: CentralService = request.app.state.central
    return service


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
            yield
        finally:
            await service.stop()

    # No /docs or /redoc: FastAPI's pages load Swagger UI from a CDN, and stations are
    # often air-gapped. The schema itself is at /openapi.json.
    app = FastAPI(title="alarmlink central", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Venue alarms routed to police station duty officers.")
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    _add_incident_routes(app)
    _add_info_routes(app)
    add_snapshot_routes(app, acting_officer)
    add_commissioning_routes(app, acting_officer)

    @app.websocket("/ws")
    async def live(websocket: WebSocket, station: str | None = None) -> None:
        service: CentralService = websocket.app.state.central

        async def snapshot(station_id: str | None) -> list[dict[str, Any]]:
            return await service.readers.run(incidents.list_incidents, station=station_id)

        await service.hub.serve(websocket, station or None, snapshot)

    @app.get("/", include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with FastAPI's usual ``detail`` list plus one readable ``message``."""
    parts = describe_error_list(exc.errors())
    return JSONResponse(status_code=422, content={
        "detail": [{k: v for k, v in e.items() if k in ("loc", "msg", "type")}
                   for e in exc.errors()],
        "message": "; ".join(parts)})


def _add_incident_routes(app: FastAPI) -> None:
    @app.get("/api/incidents", response_model=list[Incident], tags=["incidents"])
    async def list_incidents(
        request: Request,
        station: str | None = Query(None, description="Only this station's incidents"),
        status: Literal["open", "all"] = Query("open", description="open or all"),
        category: Literal["alarm", "trouble"] | None = Query(None),
        limit: int = Query(200, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        return await _service(request).readers.run(
            incidents.list_incidents, station=station, open_only=status == "open",
            category=category, limit=limit)

    @app.get("/api/incidents/{incident_id}", response_model=IncidentDetail, tags=["incidents"])
    async def get_incident(request: Request, incident_id: int) -> dict[str, Any]:
        detail = await _service(request).readers.run(_detail, incident_id)
        if detail is None:
            raise HTTPException(404, f"incident {incident_id} does not exist")
        return detail

    async def act(request: Request, incident_id: int, action: incidents.Action,
                  body: ActionBody, outcome: Outcome | None = None) -> dict[str, Any]:
        actor = acting_officer(request, body)
        try:
            return await _service(request).act(incident_id, action, actor, note=body.note,
                                               outcome=outcome)
        except incidents.IncidentNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except incidents.TransitionError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/api/incidents/{incident_id}/acknowledge", response_model=Incident,
              tags=["incidents"], responses={404: {}, 409: {}})
    async def acknowledge(request: Request, incident_id: int, body: ActionBody) -> dict[str, Any]:
        return await act(request, incident_id, "acknowledge", body)

    @app.post("/api/incidents/{incident_id}/dispatch", response_model=Incident,
              tags=["incidents"], responses={404: {}, 409: {}})
    async def dispatch(request: Request, incident_id: int, body: ActionBody) -> dict[str, Any]:
        return await act(request, incident_id, "dispatch", body)

    @app.post("/api/incidents/{incident_id}/resolve", response_model=Incident,
              tags=["incidents"], responses={404: {}, 409: {}})
    async def resolve(request: Request, incident_id: int, body: ResolveBody) -> dict[str, Any]:
        return await act(request, incident_id, "resolve", body, body.outcome)

    @app.post("/api/incidents/{incident_id}/close", response_model=Incident,
              tags=["incidents"], responses={404: {}, 409: {}})
    async def close(request: Request, incident_id: int, body: ActionBody) -> dict[str, Any]:
        return await act(request, incident_id, "close", body)


def _detail(db: Database, incident_id: int) -> dict[str, Any] | None:
    incident = incidents.get_incident(db, incident_id)
    if incident is None:
        return None
    return {"incident": incident, "events": incidents.incident_events(db, incident_id),
            "log": incidents.incident_log(db, incident_id)}


def _add_info_routes(app: FastAPI) -> None:
    @app.get("/api/devices", response_model=list[DeviceInfo], tags=["devices"])
    async def devices(request: Request, station: str | None = Query(
            None, description="Only this station's devices")) -> list[dict[str, Any]]:
        return await _service(request).devices(station or None)

    @app.post("/api/devices/{device_id}/commands", response_model=CommandView,
              status_code=202, tags=["devices"], responses={404: {}, 422: {}})
    async def send_command(request: Request, device_id: str,
                           body: CommandBody) -> dict[str, Any]:
        """Store a command and publish it (QoS 1, never retained); the result comes later."""
        actor = acting_officer(request, body)
        try:
            command = await _service(request).send_command(device_id, body.name, body.args,
                                                           actor, body.ttl_s)
        except ValidationError as exc:
            raise HTTPException(422, f"command refused by the wire contract: {exc}") from None
        if command is None:
            raise HTTPException(404, f"device {device_id!r} is not registered")
        return command

    @app.get("/api/devices/{device_id}/commands", response_model=list[CommandView],
             tags=["devices"], responses={404: {}})
    async def list_commands(request: Request, device_id: str,
                            limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
        found = await _service(request).commands(device_id, limit)
        if found is None:
            raise HTTPException(404, f"device {device_id!r} is not registered")
        return found

    @app.get("/api/stations", response_model=list[StationInfo], tags=["registry"])
    async def stations(request: Request) -> list[dict[str, Any]]:
        return await _service(request).readers.run(registry.list_stations)

    @app.get("/api/dead-letters", response_model=list[DeadLetter], tags=["ingest"])
    async def dead_letters(request: Request,
                           limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return await _service(request).readers.run(list_dead_letters, limit)

    @app.get("/healthz", response_model=Health, tags=["ops"],
             responses={503: {"model": Health}})
    async def healthz(request: Request) -> JSONResponse:
        health = await _service(request).health()
        return JSONResponse(health, status_code=200 if health["ok"] else 503)
