"""What every router shares: the running service, who is acting, and what they may do.

Routes are ``async def`` and never touch SQLite on the event loop: they await
``service.writer`` (writes, one thread) or ``service.readers`` (reads), see
:mod:`central.service`.

Who acts comes from the session cookie only (:data:`CurrentSession`,
:data:`CurrentPrincipal`); what they may do is decided by :func:`authorize`
from :data:`central.auth.permissions.MATRIX` and the principal's scope. An
object outside the scope is answered 403 (not 404): an object that does not
exist is 404 for everyone who may do the action at all.

CSRF: a state-changing request (POST, PUT, PATCH, DELETE) must come from an
allowed origin (:func:`origin_allowed`: its ``Origin``, or without one its
``Referer``, is the origin the request was addressed to or in
``[auth] allowed_origins``; a request with neither header, i.e. not from a
browser, passes this check) and, once logged in, carry the session's CSRF
token in ``X-CSRF-Token`` (the login response and the ``alarmlink_csrf``
cookie give it).
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie
from starlette.requests import HTTPConnection

from central import audit
from central.auth import sessions
from central.auth.config import AuthConfig
from central.auth.permissions import Action
from central.auth.principal import Principal
from central.service import CentralService

logger = logging.getLogger(__name__)

SESSION_COOKIE = "alarmlink_session"
CSRF_COOKIE = "alarmlink_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: The OpenAPI security scheme: the session cookie set by ``POST /api/login``.
session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                              description="Session cookie from POST /api/login; state-"
                                          "changing requests also need the X-CSRF-Token "
                                          "header from the login response.")


def get_service(request: Request) -> CentralService:
    """The :class:`CentralService` the app's lifespan started."""
    service: CentralService = request.app.state.central
    return service


Service = Annotated[CentralService, Depends(get_service)]


def source_of(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client is not None else ""


def _own_origin(conn: HTTPConnection) -> str:
    scheme = {"ws": "http", "wss": "https"}.get(conn.url.scheme, conn.url.scheme)
    host = conn.headers.get("host", conn.url.netloc)
    return f"{scheme}://{host}".lower()


def origin_allowed(conn: HTTPConnection, config: AuthConfig) -> bool:
    """The CSRF origin check (see the module docstring)."""
    origin = conn.headers.get("origin")
    if origin is None:
        referer = conn.headers.get("referer")
        if referer is None:
            return True
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    origin = origin.rstrip("/").lower()
    return origin == _own_origin(conn) or origin in config.allowed_origins


async def denied(service: CentralService, principal: Principal | None, action: str,
                 obj: str, reason: str, source: str = "") -> HTTPException:
    """Append a ``denied`` audit entry; returns the 403 to raise."""
    entry = audit.Entry(principal.username if principal else "", principal.role if principal
                        else "", principal.source if principal else source, action, obj,
                        "denied", {"reason": reason})
    await service.writer.run(audit.append, entry)
    return HTTPException(403, reason)


async def lookup_session(service: CentralService, conn: HTTPConnection
                         ) -> sessions.Session | None:
    """The live session of the connection's cookie (recording its use), or None."""
    token = conn.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    now = service.clock()
    session = await service.readers.run(sessions.lookup, token, now, service.config.auth,
                                        source=source_of(conn))
    if session is not None and sessions.due_touch(session, now, service.config.auth):
        await service.writer.run(sessions.touch, session.token_hash, now)
    return session


async def current_session(request: Request, service: Service,
                          token: str | None = Security(session_cookie)) -> sessions.Session:
    """The request's session: 401 without one; 403 for a state change failing CSRF."""
    session = await lookup_session(service, request) if token else None
    if session is None:
        raise HTTPException(401, "login required")
    if request.method not in SAFE_METHODS:
        if not origin_allowed(request, service.config.auth):
            raise await denied(service, session.principal, "csrf", request.url.path,
                               "cross-origin request refused: send it from the console's "
                               "own origin or add the origin to [auth] allowed_origins")
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), sessions.csrf_token(token or "").encode()):
            raise await denied(service, session.principal, "csrf", request.url.path,
                               "missing or wrong X-CSRF-Token header: send the csrf_token "
                               "from the login response")
    return session


CurrentSession = Annotated[sessions.Session, Depends(current_session)]


async def current_principal(session: CurrentSession) -> Principal:
    return session.principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def authorize(service: CentralService, principal: Principal, action: Action, *,
                    station_id: str | None = None, venue_id: str | None = None,
                    obj: str = "", audit_allowed: bool = False) -> None:
    """Raise 403 (and audit it) unless ``principal`` may do ``action`` on the object.

    ``station_id`` / ``venue_id``: where the object lives (checked against the
    principal's scope). ``audit_allowed``: record an ``allowed`` entry (state changes).
    """
    if not principal.may(action):
        raise await denied(service, principal, action, obj,
                           f"your role {principal.role} may not do {action}")
    if station_id is not None:
        inside = (principal.sees_venue(venue_id, station_id) if venue_id is not None
                  else principal.sees_station(station_id))
        if not inside:
            raise await denied(service, principal, action, obj,
                               f"{obj or 'this object'} is outside your part of the "
                               "organisation")
    if audit_allowed:
        await service.writer.run(audit.append, audit.Entry(
            principal.username, principal.role, principal.source, action, obj, "allowed"))
