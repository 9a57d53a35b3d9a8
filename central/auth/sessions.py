"""Login sessions: a random cookie token of which only the SHA-256 is stored.

* :func:`create` (writer): a new session; returns the token, given to the browser once;
* :func:`lookup` (readers): the :class:`~central.auth.principal.Principal` of a token,
  or None when it is unknown, ended, past its idle timeout or absolute lifetime,
  or its user is disabled;
* :func:`touch` (writer): record use, at most every ``touch_interval_s``;
* :func:`end` / :func:`end_all` (writer): logout; a disabled user's sessions.

The CSRF token of a session is derived from its cookie token with HMAC
(:func:`csrf_token`), so it is never stored either.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from central.auth.config import AuthConfig
from central.auth.principal import Principal, resolve_scope
from central.db import iso, parse_iso, query_one, write_tx

logger = logging.getLogger(__name__)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """The session's CSRF token (double submit: cookie ``alarmlink_csrf`` + header)."""
    return hmac.new(token.encode("utf-8"), b"alarmlink-csrf", hashlib.sha256).hexdigest()


def create(db: Database, user_id: int, now: datetime, config: AuthConfig, *,
           source: str = "", user_agent: str = "") -> str:
    """A new session for ``user_id``; returns its token (store it nowhere but the cookie)."""
    token = secrets.token_urlsafe(32)
    with write_tx(db):
        db.execute("INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, "
                   "expires_at, source, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [token_hash(token), user_id, iso(now), iso(now),
                    iso(now + timedelta(seconds=config.session_lifetime_s)), source,
                    user_agent[:300]])
    return token


@dataclass(frozen=True)
class Session:
    """A live session as a request sees it."""

    principal: Principal
    token_hash: str
    last_seen_at: datetime
    display_name: str


def lookup(db: Database, token: str | None, now: datetime, config: AuthConfig, *,
           source: str = "") -> Session | None:
    """The live session of ``token``, or None (see the module docstring)."""
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    row = query_one(
        db, "SELECT s.last_seen_at, s.expires_at, u.id AS user_id, u.username, u.role, "
            "u.node_kind, u.node_id, u.display_name FROM sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.ended_at IS NULL "
            "AND u.disabled_at IS NULL", [digest])
    if row is None:
        return None
    last_seen = parse_iso(row["last_seen_at"])
    if parse_iso(row["expires_at"]) <= now:
        return None
    if (now - last_seen).total_seconds() >= config.idle_timeout_s:
        return None
    stations, venues = resolve_scope(db, row["node_kind"], row["node_id"])
    principal = Principal(user_id=row["user_id"], username=row["username"], role=row["role"],
                          node_kind=row["node_kind"], node_id=row["node_id"],
                          stations=stations, venues=venues, source=source)
    return Session(principal, digest, last_seen, row["display_name"])


def due_touch(session: Session, now: datetime, config: AuthConfig) -> bool:
    return (now - session.last_seen_at).total_seconds() >= config.touch_interval_s


def touch(db: Database, digest: str, now: datetime) -> None:
    with write_tx(db):
        db.execute("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ? AND "
                   "ended_at IS NULL AND last_seen_at < ?", [iso(now), digest, iso(now)])


def end(db: Database, digest: str, now: datetime, reason: str = "logout") -> bool:
    """End one session; False if it was not live."""
    with write_tx(db):
        cur = db.execute("UPDATE sessions SET ended_at = ?, ended_reason = ? "
                         "WHERE token_hash = ? AND ended_at IS NULL", [iso(now), reason, digest])
    return bool(cur.rowcount)


def end_all(db: Database, user_id: int, now: datetime, reason: str) -> int:
    """End every live session of a user; returns how many."""
    with write_tx(db):
        cur = db.execute("UPDATE sessions SET ended_at = ?, ended_reason = ? "
                         "WHERE user_id = ? AND ended_at IS NULL", [iso(now), reason, user_id])
    return int(cur.rowcount or 0)


def user_row(db: Database, username: str) -> dict[str, object] | None:
    """The user's row (with its hash: never return it from an API), or None."""
    return query_one(db, "SELECT * FROM users WHERE username = ?", [username])
