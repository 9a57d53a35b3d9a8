"""Failed logins: account lockout and per-address rate limiting.

* ``lockout_failures`` wrong passwords for one account within ``lockout_window_s``
  lock it for ``lockout_s``: even the right password is refused until then, or
  until an admin unlocks it (``alarmlink central user unlock``,
  ``POST /api/users/{username}/unlock``);
* ``source_failures`` failed logins from one address within ``source_window_s``:
  that address gets 429 until the oldest of them leaves the window.

Every failure (unknown user names too) is a ``login_failures`` row.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlite_utils import Database

from central.auth.config import AuthConfig
from central.db import iso, parse_iso, query_one, write_tx

logger = logging.getLogger(__name__)


def source_limited(db: Database, source: str, now: datetime, config: AuthConfig) -> bool:
    """True when ``source`` has had too many failed logins recently."""
    since = iso(now - timedelta(seconds=config.source_window_s))
    row = query_one(db, "SELECT count(*) AS n FROM login_failures WHERE source = ? AND at > ?",
                    [source, since])
    return row is not None and int(row["n"]) >= config.source_failures


def locked_until(user: dict[str, object], now: datetime) -> datetime | None:
    """When the account's lock ends, or None if it is not locked now."""
    until = user.get("locked_until")
    if not isinstance(until, str):
        return None
    moment = parse_iso(until)
    return moment if moment > now else None


def record_failure(db: Database, username: str, user_id: int | None, source: str,
                   now: datetime, config: AuthConfig) -> datetime | None:
    """Record a failed login; returns the lock's end if this failure locked the account."""
    with write_tx(db):
        db.execute("INSERT INTO login_failures (at, username, source) VALUES (?, ?, ?)",
                   [iso(now), username[:120], source])
        if user_id is None:
            return None
        since = iso(now - timedelta(seconds=config.lockout_window_s))
        db.execute("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ?", [user_id])
        row = query_one(db, "SELECT count(*) AS n FROM login_failures WHERE username = ? "
                            "AND at > ?", [username, since])
        if row is None or int(row["n"]) < config.lockout_failures:
            return None
        until = now + timedelta(seconds=config.lockout_s)
        db.execute("UPDATE users SET locked_until = ? WHERE id = ?", [iso(until), user_id])
    logger.warning("account %s locked until %s after %s failed logins", username, iso(until),
                   config.lockout_failures)
    return until


def clear(db: Database, user_id: int) -> None:
    """Unlock: forget the account's failures (after a good login, or by an admin)."""
    with write_tx(db):
        row = query_one(db, "SELECT username FROM users WHERE id = ?", [user_id])
        db.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?",
                   [user_id])
        if row is not None:
            db.execute("DELETE FROM login_failures WHERE username = ?", [row["username"]])
