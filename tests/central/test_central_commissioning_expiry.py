"""A forgotten walk test must not silence a device: sessions expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from central_testkit import make_event
from sqlite_utils import Database

from central import commissioning
from central.db import write_tx

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def _hit(db: Database, at: datetime) -> bool:
    with write_tx(db):
        return commissioning.record_hit(db, make_event("school-01", ts=at), at)


def test_events_inside_the_session_are_walk_test_hits(db: Database) -> None:
    commissioning.start(db, "school-01", "installer-wang", T0)
    assert _hit(db, T0 + timedelta(minutes=30))
    assert commissioning.active_session(db, "school-01") is not None


def test_a_forgotten_session_expires_and_alarms_are_real_again(db: Database) -> None:
    commissioning.start(db, "school-01", "installer-wang", T0)
    late = T0 + commissioning.MAX_SESSION + timedelta(minutes=1)
    assert not _hit(db, late), "an alarm after the session's limit was taken as a test"
    assert commissioning.active_session(db, "school-01") is None
    ended_by = db.execute("SELECT ended_by FROM commissioning").fetchone()[0]
    assert ended_by == "expired"
