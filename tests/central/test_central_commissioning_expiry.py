"""A walk test has a reason and ends by itself at the end time it was started with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import both_backends
import pytest
from central_testkit import make_event
from sqlite_utils import Database

from central import commissioning
from central.db import write_tx

# every storage test here runs on SQLite and on PostgreSQL (tests/central/both_backends.py)
backend, db, ingestor = both_backends.backend, both_backends.db, both_backends.ingestor

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _hit(db: Database, at: datetime) -> bool:
    with write_tx(db):
        return commissioning.record_hit(db, make_event("school-01", ts=at), at)


def _start(db: Database, duration: timedelta = HOUR) -> dict[str, object]:
    return commissioning.start(db, "school-01", "installer-wang", T0, reason="新装调试",
                               duration=duration)


def test_events_inside_the_session_are_walk_test_hits(db: Database) -> None:
    view = _start(db)
    assert view["active"] and view["session"]["reason"] == "新装调试"  # type: ignore[index]
    assert _hit(db, T0 + timedelta(minutes=30))
    assert commissioning.active_session(db, "school-01") is not None


@pytest.mark.parametrize("minutes", [20, 90])
def test_the_session_ends_at_the_requested_duration(db: Database, minutes: int) -> None:
    duration = timedelta(minutes=minutes)
    _start(db, duration)
    assert _hit(db, T0 + duration - timedelta(seconds=1))
    assert commissioning.commissioning_devices(db, T0 + duration) == set()
    assert not commissioning.session_view(db, "school-01", T0 + duration)["active"]
    assert commissioning.active_walk_tests(db, T0 + duration, "Asia/Shanghai") == []
    assert not _hit(db, T0 + duration), "an alarm at the session's end was taken as a test"
    assert commissioning.active_session(db, "school-01") is None
    ended = db.execute("SELECT ended_by, ended_at, ends_at FROM commissioning").fetchone()
    assert ended[0] == "expired" and ended[1] == ended[2]


def test_a_new_walk_test_can_start_after_one_expired_unnoticed(db: Database) -> None:
    _start(db)
    later = T0 + 2 * HOUR
    commissioning.start(db, "school-01", "installer-li", later, reason="复测",
                        duration=HOUR)
    rows = db.execute("SELECT ended_by, reason FROM commissioning ORDER BY id").fetchall()
    assert rows == [("expired", "新装调试"), (None, "复测")]


@pytest.mark.parametrize(("reason", "duration", "field"), [
    ("", HOUR, "reason"), ("   ", HOUR, "reason"), ("x" * 201, HOUR, "reason"),
    ("ok", timedelta(0), "duration_s"), ("ok", commissioning.MAX_SESSION + HOUR, "duration_s"),
])
def test_reason_and_duration_are_checked(db: Database, reason: str, duration: timedelta,
                                         field: str) -> None:
    with pytest.raises(commissioning.CommissioningError, match=f"^{field}: "):
        commissioning.start(db, "school-01", "installer-wang", T0, reason=reason,
                            duration=duration)
    assert commissioning.active_session(db, "school-01") is None


def test_active_walk_tests_list_the_venue_and_local_end_time(db: Database) -> None:
    _start(db)
    (row,) = commissioning.active_walk_tests(db, T0, "Asia/Shanghai")
    assert row["device_id"] == "school-01" and row["venue_id"] == "school-01"
    assert row["station_id"] == "chengxiang" and row["reason"] == "新装调试"
    assert row["started_by"] == "installer-wang"
    assert row["ends_at"] == "2026-11-28T10:00:00.000Z" and row["ends_at_local"] == "18:00"
