"""Officers' accounts: add, set password, disable, enable, unlock, list, TOTP.

Library functions over a database connection (the API calls them on the writer
thread, the CLI on its own connection). Each change appends an audit entry
naming the acting user (a session's user, or ``cli:<os user>`` from the CLI).
Nothing here returns a password hash or a TOTP secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from central import audit
from central.auth import lockout, passwords, sessions
from central.auth.permissions import ROLES
from central.db import iso, query_one, write_tx

logger = logging.getLogger(__name__)

#: The columns a listing shows (never password_hash or totp_secret).
PUBLIC_COLUMNS = ("username", "display_name", "role", "node_kind", "node_id", "mobile",
                  "created_at", "created_by", "password_changed_at", "disabled_at",
                  "disabled_by", "failed_logins", "locked_until")
_NODE_TABLES = {"city": "cities", "county": "counties", "station": "stations",
                "office": "police_offices", "village": "villages", "venue": "venues"}


class UserError(ValueError):
    """A refused change; the message names the cause and the fix."""


@dataclass(frozen=True)
class Actor:
    """Who makes a change, for the audit log."""

    username: str
    role: str
    source: str


def parse_node(spec: str) -> tuple[str, str]:
    """``root`` or ``kind:ID`` -> ``(kind, id)``; raises :class:`UserError`."""
    if spec == "root":
        return "root", ""
    kind, _, node_id = spec.partition(":")
    if kind not in _NODE_TABLES or not node_id:
        raise UserError(f"node {spec!r} not understood: write root, city:ID, county:ID, "
                        "station:ID, office:ID, village:ID or venue:ID")
    return kind, node_id


def check_node(db: Database, kind: str, node_id: str) -> None:
    if kind == "root":
        return
    table = _NODE_TABLES[kind]
    if query_one(db, f"SELECT 1 AS ok FROM {table} WHERE id = ?", [node_id]) is None:
        raise UserError(f"{kind} {node_id!r} is not in the registry: add it first "
                        f"(alarmlink central registry ...) or check the id")


def _audit(db: Database, actor: Actor, action: str, username: str,
           detail: dict[str, Any] | None = None) -> None:
    audit.append(db, audit.Entry(actor.username, actor.role, actor.source, action,
                                 f"user:{username}", "allowed", detail))


def _user(db: Database, username: str) -> dict[str, Any]:
    row = sessions.user_row(db, username)
    if row is None:
        raise UserError(f"no user {username!r}: see alarmlink central user list")
    return dict(row)


def public(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in PUBLIC_COLUMNS}
    out["totp"] = bool(row.get("totp_secret"))
    out["disabled"] = row.get("disabled_at") is not None
    return out


def add(db: Database, actor: Actor, now: datetime, *, username: str, role: str, node: str,
        password: str, display_name: str = "", mobile: str = "") -> dict[str, Any]:
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise UserError("user name must be 1 to 64 characters without spaces")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    kind, node_id = parse_node(node)
    check_node(db, kind, node_id)
    if role == "admin" and kind != "root":
        raise UserError("an admin belongs to the root of the tree: use --node root")
    try:
        passwords.check_policy(username, password)
    except passwords.PasswordPolicyError as exc:
        raise UserError(str(exc)) from None
    password_hash = passwords.hash_password(password)
    with write_tx(db):
        if sessions.user_row(db, username) is not None:
            raise UserError(f"user {username!r} already exists: choose another name or "
                            "use passwd / enable")
        db.execute("INSERT INTO users (username, display_name, role, node_kind, node_id, "
                   "password_hash, mobile, created_at, created_by, password_changed_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [username, display_name, role, kind, node_id, password_hash, mobile,
                    iso(now), actor.username, iso(now)])
        _audit(db, actor, "user.add", username, {"role": role, "node": node})
    logger.info("user %s (%s at %s) added by %s", username, role, node, actor.username)
    return get(db, username)


def set_password(db: Database, actor: Actor, now: datetime, username: str,
                 password: str) -> None:
    user = _user(db, username)
    try:
        passwords.check_policy(user["username"], password)
    except passwords.PasswordPolicyError as exc:
        raise UserError(str(exc)) from None
    password_hash = passwords.hash_password(password)
    with write_tx(db):
        db.execute("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
                   [password_hash, iso(now), user["id"]])
        _audit(db, actor, "user.password", user["username"])


def rehash(db: Database, user_id: int, password: str) -> None:
    """Store a new hash of a verified password (the hash parameters changed)."""
    with write_tx(db):
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                   [passwords.hash_password(password), user_id])


def disable(db: Database, actor: Actor, now: datetime, username: str) -> int:
    """Disable the account and end its sessions at once; returns the sessions ended."""
    user = _user(db, username)
    with write_tx(db):
        db.execute("UPDATE users SET disabled_at = coalesce(disabled_at, ?), "
                   "disabled_by = coalesce(disabled_by, ?) WHERE id = ?",
                   [iso(now), actor.username, user["id"]])
        ended = sessions.end_all(db, user["id"], now, "disabled")
        _audit(db, actor, "user.disable", user["username"], {"sessions_ended": ended})
    logger.warning("user %s disabled by %s (%d sessions ended)", user["username"],
                   actor.username, ended)
    return ended


def enable(db: Database, actor: Actor, now: datetime, username: str) -> None:
    del now
    user = _user(db, username)
    with write_tx(db):
        db.execute("UPDATE users SET disabled_at = NULL, disabled_by = NULL WHERE id = ?",
                   [user["id"]])
        _audit(db, actor, "user.enable", user["username"])


def unlock(db: Database, actor: Actor, now: datetime, username: str) -> None:
    del now
    user = _user(db, username)
    with write_tx(db):
        lockout.clear(db, user["id"])
        _audit(db, actor, "user.unlock", user["username"])


def set_totp(db: Database, actor: Actor, username: str, secret: str | None) -> None:
    """Store (or with None remove) the user's TOTP secret."""
    user = _user(db, username)
    with write_tx(db):
        db.execute("UPDATE users SET totp_secret = ? WHERE id = ?", [secret, user["id"]])
        _audit(db, actor, "user.totp_enable" if secret else "user.totp_disable",
               user["username"])


def get(db: Database, username: str) -> dict[str, Any]:
    return public(_user(db, username))


def list_users(db: Database) -> list[dict[str, Any]]:
    return [public(dict(r)) for r in db.query("SELECT * FROM users ORDER BY username")]


def any_users(db: Database) -> bool:
    return query_one(db, "SELECT 1 AS ok FROM users LIMIT 1") is not None
