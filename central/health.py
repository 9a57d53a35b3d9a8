"""What ``/healthz`` says: is central fit to take alarms right now, and if not, why.

Central is healthy when all of these hold; each one that does not adds one line to
``problems`` (the cause and the fix) and makes ``/healthz`` answer 503:

* **broker**: the MQTT link is up and every subscription granted
  (:class:`central.mqtt_bridge.MqttBridge`);
* **database**: the last write succeeded and none failed within
  ``[health] failure_hold_s``; a write succeeded within ``max_write_age_s`` (the
  writer's probe, :func:`probe`, rewrites a one-row table every
  ``probe_interval_s``, so a full disk shows even when no alarm arrives); the file
  system holding the database has ``min_free_mb`` free; a read answers;
* **ingest**: no database job (an incoming alarm, an officer's action) has waited
  for the writer longer than ``max_ingest_lag_s``.

``last_broker_message_age_s`` (time since the broker last delivered anything) is
reported but never fails health: a station with no devices is quiet, and silent
devices are supervision's business (a trouble per device).

Nothing here is secret: no credentials, no user data, only states, ages, error
names and the database's directory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from central.db import Writer, iso, write_tx
from central.db.outcomes import CommitFailure
from central.health_config import HealthConfig

logger = logging.getLogger(__name__)

MIB = 1024 * 1024


def probe(db: Database, now: datetime) -> None:
    """The write probe (a writer job): rewrite the one row of ``health_probe``."""
    with write_tx(db):
        db.execute("INSERT INTO health_probe (id, at, count) VALUES (1, ?, 1) "
                   "ON CONFLICT (id) DO UPDATE SET at = excluded.at, count = count + 1",
                   [iso(now)])


async def probe_loop(writer: Writer, interval_s: float) -> None:
    """Run :func:`probe` on the writer every ``interval_s``; log a failure once per streak."""
    failing = False
    while True:
        try:
            await writer.run(probe, datetime.now().astimezone())
        except sqlite3.Error as exc:
            if not failing:
                logger.error("database write probe failed: %s", exc)
            failing = True
        else:
            if failing:
                logger.info("database write probe succeeds again")
            failing = False
        await asyncio.sleep(interval_s)


def free_bytes(directory: Path) -> int | None:
    """Bytes an unprivileged writer may still use on ``directory``'s file system."""
    try:
        stat = os.statvfs(directory)
    except OSError as exc:
        logger.warning("cannot stat %s for free space: %s", directory, exc)
        return None
    return stat.f_bavail * stat.f_frsize


def _clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M:%S")


def describe_failure(failure: CommitFailure, directory: Path) -> str:
    """One line for a failed write: what SQLite said, when, and what to do."""
    code, at = failure.code, _clock(failure.at)
    if code == "SQLITE_FULL":
        return f"database: disk full ({code}) at {at} — free space on {directory}"
    if code.startswith("SQLITE_BUSY") or code.startswith("SQLITE_LOCKED"):
        return (f"database: locked by another process ({code}) at {at} — stop the tool or "
                f"backup holding {directory}'s database")
    if code.startswith("SQLITE_READONLY") or code.startswith("SQLITE_CANTOPEN"):
        return (f"database: cannot write ({code}) at {at} — check that central's user owns "
                f"{directory} and the file system is mounted read-write")
    if code.startswith("SQLITE_IOERR") or code == "SQLITE_CORRUPT":
        return (f"database: disk error ({code}: {failure.message}) at {at} — check the disk "
                f"holding {directory} (dmesg) and central's log")
    return f"database: write failed ({code}: {failure.message}) at {at} — see central's log"


def database_problems(writer: Writer, config: HealthConfig, directory: Path,
                      started: float, free: int | None) -> list[str]:
    """The database's problems, one line each (empty when healthy)."""
    problems = []
    commits = writer.commits
    failure = commits.last_failure
    failure_age = commits.failure_age_s()
    if failure is not None and (commits.failing or (
            failure_age is not None and failure_age < config.failure_hold_s)):
        problems.append(describe_failure(failure, directory))
    ok_age = commits.ok_age_s()
    since_start = time.monotonic() - started
    if (ok_age if ok_age is not None else since_start) > config.max_write_age_s and (
            not problems):
        age = ok_age if ok_age is not None else since_start
        problems.append(f"database: no successful write for {age:.0f} s (limit "
                        f"{config.max_write_age_s:g} s) — check the disk holding {directory} "
                        f"and central's log")
    if free is not None and free < config.min_free_mb * MIB:
        problems.append(f"database: only {free / MIB:.1f} MiB free (below [health] "
                        f"min_free_mb = {config.min_free_mb:g}) — free space on {directory}")
    return problems


def ingest_problems(lag_s: float, config: HealthConfig) -> list[str]:
    if lag_s <= config.max_ingest_lag_s:
        return []
    return [f"ingest: a database job has waited {lag_s:.0f} s (limit "
            f"{config.max_ingest_lag_s:g} s) — the writer is stuck; check the disk and "
            f"central's log"]


def broker_problems(state: str, error: str | None) -> list[str]:
    """``state``: see :func:`central.service._mqtt_state`."""
    if state in ("connected", "disabled"):
        return []
    if state == "subscribing":
        return ["broker: connected, waiting for the broker to grant the subscriptions"]
    if state == "subscription_refused":
        return [f"broker: {error} — check central's ACL in the broker's configuration"]
    cause = f" ({error})" if error else ""
    return [f"broker: not connected{cause} — check that Mosquitto runs and central's "
            f"[broker] url and credentials"]


def writer_facts(writer: Writer) -> dict[str, Any]:
    """The writer's numbers for the report (no judgement)."""
    commits = writer.commits
    failure = commits.last_failure
    ok_age = commits.ok_age_s()
    return {
        "writes_pending": writer.pending,
        "ingest_lag_s": round(writer.oldest_pending_age_s(), 3),
        "last_commit_at": None if commits.last_ok_at is None else iso(commits.last_ok_at),
        "last_commit_age_s": None if ok_age is None else round(ok_age, 3),
        "last_write_error": None if failure is None else (
            f"{failure.code}: {failure.message} at {iso(failure.at)}"),
    }
