"""Login, logout, who am I, and the first-run hint.

* ``POST /api/login`` ``{username, password, totp?}``: sets the HttpOnly session
  cookie ``alarmlink_session`` and the readable ``alarmlink_csrf`` cookie, returns
  the user and ``csrf_token`` (send it as ``X-CSRF-Token`` on every POST).
  401 "wrong user name or password" (the same for an unknown user), 423 while the
  account is locked, 429 while the address is rate limited.
* ``POST /api/logout``, ``GET /api/me``.
* ``GET /api/setup`` (public): ``{"users": false}`` on a central with no users yet.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pyotp
from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import Field, StringConstraints

from alarmlink.config_base import StrictModel
from central import audit
from central.api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentSession,
    Service,
    denied,
    origin_allowed,
    source_of,
)
from central.auth import lockout, passwords, sessions, users
from central.auth.config import AuthConfig
from central.service import CentralService

logger = logging.getLogger(__name__)

router = APIRouter(tags=["auth"])

WRONG = "wrong user name or password"
#: Password checks at once. Each argon2id check takes ~64 MiB and a core for tens of
#: milliseconds: a login flood waits here instead of starving ingest or the memory.
VERIFY_SLOTS = 2
_verify_slots = asyncio.Semaphore(VERIFY_SLOTS)


class LoginBody(StrictModel):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=64)] = Field(
        description="Your user name")
    password: str = Field(min_length=1, max_length=1024, description="Your password")
    totp: str | None = Field(None, pattern=r"^\s*\d{6}\s*$",
                             description="The 6-digit code of your authenticator app, "
                                         "when your account has one")


class Me(StrictModel):
    username: str = Field(description="User name")
    display_name: str = Field(description="Name shown in the console")
    role: str = Field(description="Role, see GET /api/roles")
    node_kind: str = Field(description="root, city, county, station or office")
    node_id: str = Field(description="Id of the node ('' for root)")
    csrf_token: str = Field(description="Send as X-CSRF-Token on every state-changing request")


def _login_state(db: Any, source: str, username: str, now: datetime,
                 config: AuthConfig) -> tuple[bool, dict[str, Any] | None]:
    user = sessions.user_row(db, username)
    return lockout.source_limited(db, source, now, config), (dict(user) if user else None)


def _succeed(db: Any, user: dict[str, Any], password: str, now: datetime,
             config: AuthConfig, source: str, user_agent: str) -> str:
    if user["failed_logins"] or user["locked_until"]:
        lockout.clear(db, user["id"])
    if passwords.needs_rehash(user["password_hash"]):
        users.rehash(db, user["id"], password)
    token = sessions.create(db, user["id"], now, config, source=source,
                            user_agent=user_agent)
    audit.append(db, audit.Entry(user["username"], user["role"], source, "login",
                                 f"user:{user['username']}", "allowed"))
    return token


def _fail(db: Any, username: str, user: dict[str, Any] | None, source: str, now: datetime,
          config: AuthConfig, reason: str) -> datetime | None:
    until = lockout.record_failure(db, user["username"] if user else username,
                                   user["id"] if user else None, source, now, config)
    audit.append(db, audit.Entry(user["username"] if user else username[:64],
                                 user["role"] if user else "", source, "login",
                                 f"user:{user['username'] if user else username[:64]}",
                                 "denied", {"reason": reason}))
    return until


def locked_message(until: datetime, timezone: str = "Asia/Shanghai") -> str:
    """The 423 text; the time is the station's (``[audit] timezone``)."""
    local = until.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    return (f"account locked until {local} after too many wrong passwords; "
            "an admin can unlock it now (alarmlink central user unlock)")


async def _refuse(service: CentralService, body: LoginBody, source: str,
                  status: int, message: str) -> HTTPException:
    await service.writer.run(audit.append, audit.Entry(
        body.username, "", source, "login", f"user:{body.username}", "denied",
        {"reason": message}))
    return HTTPException(status, message)


def _second_factor(user: dict[str, Any], code: str | None, now: datetime,
                   config: AuthConfig) -> str | None:
    """None when the second factor is satisfied, else why not."""
    secret = user.get("totp_secret")
    if not secret:
        if user["role"] in config.totp_roles:
            return ("your role must log in with a TOTP code but your account has none: ask "
                    "an admin to run alarmlink central user totp enable")
        return None
    if code is None:
        return "TOTP code required: enter the 6-digit code of your authenticator app"
    if not pyotp.TOTP(secret).verify(code.strip(), for_time=now, valid_window=1):
        return "wrong TOTP code: enter the current 6-digit code of your authenticator app"
    return None


@router.post("/api/login", response_model=Me, responses={401: {}, 403: {}, 423: {}, 429: {}})
async def login(request: Request, response: Response, service: Service,
                body: LoginBody) -> dict[str, Any]:
    """Log in; the session cookie is set, the CSRF token returned."""
    config = service.config.auth
    source = source_of(request)
    if not origin_allowed(request, config):
        raise await denied(service, None, "login", f"user:{body.username}",
                           "cross-origin login refused", source)
    now = service.clock()
    limited, user = await service.readers.run(_login_state, source, body.username, now, config)
    if limited:
        raise await _refuse(service, body, source, 429,
                            "too many failed logins from your address: wait "
                            f"{config.source_window_s / 60:g} minutes or ask an admin")
    if user is not None and user["disabled_at"] is None:
        until = lockout.locked_until(user, now)
        if until is not None:
            raise await _refuse(service, body, source, 423,
                                locked_message(until, service.config.audit.timezone))
    usable = user is not None and user["disabled_at"] is None
    async with _verify_slots:
        ok = await asyncio.to_thread(passwords.verify, user["password_hash"] if usable and user
                                     else None, body.password)
    reason = WRONG
    if ok and user is not None:
        second = _second_factor(user, body.totp, now, config)
        if second is not None:
            ok, reason = False, second
    if not ok or user is None:
        until = await service.writer.run(_fail, body.username, user if usable else None,
                                         source, now, config, reason)
        if until is not None:
            raise HTTPException(423, locked_message(until, service.config.audit.timezone))
        raise HTTPException(401, reason)
    token = await service.writer.run(_succeed, user, body.password, now, config, source,
                                     request.headers.get("user-agent", ""))
    secure = config.cookie_secure if isinstance(config.cookie_secure, bool) else (
        request.url.scheme == "https")
    max_age = int(config.session_lifetime_s)
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=secure)
    csrf = sessions.csrf_token(token)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path="/", httponly=False,
                        samesite="strict", secure=secure)
    logger.info("user %s logged in from %s", user["username"], source)
    return {"username": user["username"], "display_name": user["display_name"],
            "role": user["role"], "node_kind": user["node_kind"], "node_id": user["node_id"],
            "csrf_token": csrf}


@router.post("/api/logout", status_code=204, response_class=Response)
async def logout(request: Request, service: Service, session: CurrentSession) -> Response:
    """End this session."""
    now = service.clock()
    await service.writer.run(sessions.end, session.token_hash, now, "logout")
    principal = session.principal
    await service.writer.run(audit.append, audit.Entry(
        principal.username, principal.role, principal.source, "logout",
        f"user:{principal.username}", "allowed"))
    del request
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/api/me", response_model=Me)
async def me(request: Request, session: CurrentSession) -> dict[str, Any]:
    """Who is logged in (401 when nobody is)."""
    principal = session.principal
    return {"username": principal.username, "display_name": session.display_name,
            "role": principal.role, "node_kind": principal.node_kind,
            "node_id": principal.node_id,
            "csrf_token": sessions.csrf_token(request.cookies.get(SESSION_COOKIE, ""))}


@router.get("/api/setup")
async def setup(service: Service) -> dict[str, bool]:
    """Public: ``{"users": false}`` while central has no user (the login page then says
    how to create the first admin)."""
    return {"users": await service.readers.run(users.any_users)}
