"""Issue 11, fairness and limits: dead letters capped per device and pruned by age with
counts kept; a flooding device raises one trouble at its station, not one per message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import both_backends
import pytest
from central_testkit import DEMO_REGISTRY
from helpers import wait_for
from pydantic import ValidationError

from central import dead_letters
from central.config import CentralConfig
from central.db import Writer, open_db, query_one
from central.db.pg_store import PgDatabase
from central.floods import FloodWatch, zone_of
from central.ingest_queue import Budgets
from central.limits_config import LimitsConfig
from central.registry import load_registry

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(params=both_backends.BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The demo registry on SQLite and on PostgreSQL (issue 16, line 1)."""
    if request.param == "sqlite":
        conn: Any = open_db(tmp_path / "central.db")
    else:
        conn = PgDatabase.connect(request.getfixturevalue("pg_url"))
    load_registry(conn, DEMO_REGISTRY)
    yield conn
    conn.close()


def _store(db: Any, device: str | None, n: int, when: datetime = NOW,
           policy: dead_letters.Policy | None = None) -> int:
    policy = policy or dead_letters.Policy(LimitsConfig(dead_letter_burst=1000))
    return sum(dead_letters.store(db, f"alarmlink/v1/dev/{device}/event", b"{garbage",
                                  f"bad {i}", device, when, policy=policy) for i in range(n))


def _count(db: Any, device: str | None) -> int:
    row = query_one(db, "SELECT count(*) AS n FROM dead_letters WHERE device_id IS ?", [device])
    assert row is not None
    return int(row["n"])


def test_dead_letters_are_capped_per_device_and_counted(db: Any) -> None:
    policy = dead_letters.Policy(LimitsConfig(dead_letters_per_device=5,
                                              dead_letter_burst=1000))
    assert _store(db, "school-01", 12, policy=policy) == 12
    _store(db, "school-02", 3, policy=policy)
    _store(db, None, 7, policy=policy)
    assert (_count(db, "school-01"), _count(db, "school-02"), _count(db, None)) == (5, 3, 5)
    kept = [r["reason"] for r in db.query(
        "SELECT reason FROM dead_letters WHERE device_id = 'school-01' ORDER BY id")]
    assert kept == [f"bad {i}" for i in range(7, 12)], "the newest are kept"
    counts = {c["device"]: c for c in dead_letters.counts(db)}
    assert counts["school-01"]["received"] == 12 and counts["school-01"]["deleted"] == 7
    assert counts["school-02"]["deleted"] == 0
    assert counts[dead_letters.UNKNOWN]["received"] == 7


def test_over_budget_dead_letters_are_counted_not_stored_and_flag_the_flood(db: Any) -> None:
    floods: list[tuple[str, str, int]] = []
    policy = dead_letters.Policy(
        LimitsConfig(dead_letter_rate_per_s=0.001, dead_letter_burst=4),
        on_flood=lambda *a: floods.append(a))
    assert _store(db, "school-01", 50, policy=policy) == 4
    assert _count(db, "school-01") == 4
    (count,) = dead_letters.counts(db)
    assert (count["received"], count["not_stored"]) == (50, 46)
    assert len(floods) == 1 and floods[0][0] == "school-01", "once, not per message"
    assert _store(db, "school-02", 3, policy=policy) == 3, "another device has its own budget"


def test_prune_by_age_keeps_counts(db: Any) -> None:
    _store(db, "school-01", 3, NOW - timedelta(days=40))
    _store(db, "school-01", 2, NOW)
    assert dead_letters.prune(db, NOW - timedelta(days=30)) == 3
    assert _count(db, "school-01") == 2
    (count,) = dead_letters.counts(db)
    assert (count["received"], count["deleted"]) == (5, 3)


def test_limits_config_is_strict_and_described() -> None:
    assert CentralConfig.model_validate({"limits": {"non_alarm_burst": 5}}).limits \
        .non_alarm_burst == 5
    with pytest.raises(ValidationError):
        CentralConfig.model_validate({"limits": {"non_alarm_bursts": 5}})
    assert all(f.description for f in LimitsConfig.model_fields.values())


def test_a_flood_raises_one_trouble_at_the_station(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "central.db")
    load_registry(conn, DEMO_REGISTRY)
    writer = Writer(conn)
    pushed: list[dict[str, Any]] = []
    watch = FloodWatch(writer, pushed.append, lambda: NOW)
    now = [0.0]
    budgets = Budgets(rate=1, burst=10, clock=lambda: now[0], on_flood=watch.flooding)
    try:
        assert sum(budgets.allow("school-01") for _ in range(1000)) == 10
        now[0] = 120.0  # a later episode of the same flood: told again, raises nothing new
        assert sum(budgets.allow("school-01") for _ in range(1000)) == 10
        budgets.allow("no-such-device")  # not in the registry: nothing to raise
        wait_for(lambda: writer.call(lambda d: query_one(
            d, "SELECT count(*) AS n FROM incident_log WHERE action LIKE 'device floods%'"))
            ["n"] >= 1, what="the flood trouble")
        writer.call(lambda d: None)  # every queued job has run
        rows = writer.call(lambda d: list(d.query(
            "SELECT i.id, i.zones, i.station_id FROM incidents i WHERE category = 'trouble'")))
        assert len(rows) == 1 and zone_of("school-01") in rows[0]["zones"]
        assert watch.raised == 1 and len(pushed) == 1
        assert pushed[0]["id"] == rows[0]["id"]
    finally:
        writer.close()
        conn.close()
