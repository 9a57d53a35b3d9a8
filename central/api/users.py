"""User administration (``user.manage``, i.e. admins): the same library as the CLI.

``GET /api/users``, ``POST /api/users``, ``POST /api/users/{username}/password``,
``.../disable`` (ends the user's sessions at once), ``.../enable``, ``.../unlock``,
``GET /api/roles``. No answer ever contains a password hash or TOTP secret.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import Field

from alarmlink.config_base import StrictModel
from central.api.deps import CurrentPrincipal, Service, authorize
from central.auth import users
from central.auth.permissions import ACTIONS, MATRIX, ROLE_DESCRIPTIONS, ROLES, Role
from central.auth.principal import Principal

logger = logging.getLogger(__name__)

router = APIRouter(tags=["users"])


class UserView(StrictModel):
    username: str = Field(description="Log-in name")
    display_name: str = Field(description="Name shown in the console")
    role: str = Field(description="Role, see GET /api/roles")
    node_kind: str = Field(description="root, city, county, station or office")
    node_id: str = Field(description="Id of the node ('' for root)")
    mobile: str = Field(description="Mobile number")
    created_at: str = Field(description="When the account was made")
    created_by: str = Field(description="Who made it")
    password_changed_at: str = Field(description="Last password change")
    disabled_at: str | None = Field(description="When it was disabled, or null")
    disabled_by: str | None = Field(description="Who disabled it")
    disabled: bool = Field(description="Disabled accounts cannot log in")
    failed_logins: int = Field(description="Wrong passwords since the last good login")
    locked_until: str | None = Field(description="Locked until then (see unlock)")
    totp: bool = Field(description="Logs in with a TOTP code too")


class NewUser(StrictModel):
    username: str = Field(min_length=1, max_length=64, description="Log-in name, no spaces")
    role: Role = Field(description="One of GET /api/roles")
    node: str = Field(description="root, city:ID, county:ID, station:ID or office:ID")
    password: str = Field(min_length=1, max_length=1024, description="Initial password")
    display_name: str = Field("", max_length=120, description="Name shown in the console")
    mobile: str = Field("", max_length=32, description="Mobile number")


class PasswordBody(StrictModel):
    password: str = Field(min_length=1, max_length=1024, description="The new password")


class RoleView(StrictModel):
    role: str = Field(description="Role name")
    description: str = Field(description="What the role is for")
    actions: list[str] = Field(description="Actions it may do (inside its scope)")


def _actor(principal: Principal) -> users.Actor:
    return users.Actor(principal.username, principal.role, principal.source)


async def _change(service: Service, principal: Principal, action: str, username: str,
                  fn: Any, *args: Any) -> Any:
    await authorize(service, principal, "user.manage", obj=f"user:{username}")
    try:
        return await service.writer.run(fn, _actor(principal), service.clock(), *args)
    except users.UserError as exc:
        logger.info("%s %s by %s refused: %s", action, username, principal.username, exc)
        status = 404 if str(exc).startswith("no user") else 422
        raise HTTPException(status, str(exc)) from None


@router.get("/api/users", response_model=list[UserView])
async def list_users(service: Service, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    await authorize(service, principal, "user.manage", obj="users")
    return await service.readers.run(users.list_users)


@router.post("/api/users", response_model=UserView, status_code=201,
             responses={403: {}, 422: {}})
async def add_user(service: Service, principal: CurrentPrincipal,
                   body: NewUser) -> dict[str, Any]:
    result: dict[str, Any] = await _change(
        service, principal, "add", body.username, _add, body)
    return result


def _add(db: Any, actor: users.Actor, now: Any, body: NewUser) -> dict[str, Any]:
    return users.add(db, actor, now, username=body.username, role=body.role, node=body.node,
                     password=body.password, display_name=body.display_name,
                     mobile=body.mobile)


@router.post("/api/users/{username}/password", status_code=204, responses={404: {}, 422: {}})
async def set_password(service: Service, principal: CurrentPrincipal, username: str,
                       body: PasswordBody) -> None:
    await _change(service, principal, "password", username, users.set_password, username,
                  body.password)


UserAction = Literal["disable", "enable", "unlock"]
_FNS = {"disable": users.disable, "enable": users.enable, "unlock": users.unlock}


@router.post("/api/users/{username}/{action}", status_code=204,
             responses={404: {}, 422: {}})
async def user_action(service: Service, principal: CurrentPrincipal, username: str,
                      action: UserAction) -> None:
    """disable (ends the user's sessions at once), enable, or unlock."""
    if action == "disable" and username.lower() == principal.username.lower():
        raise HTTPException(422, "you cannot disable your own account: ask another admin")
    await _change(service, principal, action, username, _FNS[action], username)


@router.get("/api/roles", response_model=list[RoleView])
async def roles(service: Service, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """Every role, what it is for and what it may do (the permission matrix)."""
    await authorize(service, principal, "user.manage", obj="roles")
    return [{"role": role, "description": ROLE_DESCRIPTIONS[role],
             "actions": [a for a in ACTIONS if role in MATRIX[a]]} for role in ROLES]
