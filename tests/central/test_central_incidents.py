"""Incidents: grouping per venue, routing, test events, trouble apart, lifecycle."""

from __future__ import annotations

from typing import Any

import both_backends
import pytest
from central_testkit import Recorder, event_message, make_event
from sqlite_utils import Database

from alarmlink.wire import Outcome, Stage, utcnow
from central import incidents
from central.incidents import IncidentNotFound, TransitionError, transition
from central.ingest import Ingestor

# issue 16, line 1: every test here runs on SQLite and on PostgreSQL
backend, db, ingestor = both_backends.backend, both_backends.db, both_backends.ingestor


def incident_rows(db: Database) -> list[dict[str, Any]]:
    return incidents.list_incidents(db, open_only=False)


def test_alarms_of_one_venue_join_one_incident_routed_to_its_station(
        ingestor: Ingestor, db: Database, notified: list[dict[str, Any]]) -> None:
    ingestor.handle(*event_message(make_event(zone="gate-button", kind="panic")))
    ingestor.handle(*event_message(make_event(zone="dorm-2f-smoke", kind="smoke")))
    ingestor.handle(*event_message(make_event("village-01", zone="workshop-a-smoke",
                                              kind="smoke")))
    rows = {r["venue_id"]: r for r in incident_rows(db)}
    assert set(rows) == {"school-01", "village-01"}
    school = rows["school-01"]
    assert school["station_id"] == "chengxiang" and rows["village-01"]["station_id"] == "dading"
    assert school["event_count"] == 2 and school["kinds"] == ["panic", "smoke"]
    assert school["zones"] == {"gate-button": "alarm", "dorm-2f-smoke": "alarm"}
    assert school["status"] == "new" and school["category"] == "alarm"
    assert school["venue_name"] == "Chengxiang Central Primary School"
    assert [n["id"] for n in notified] == [school["id"], school["id"], rows["village-01"]["id"]]
    assert [n["version"] for n in notified[:2]] == [1, 2]


def test_test_events_never_open_or_join_incidents(
        ingestor: Ingestor, db: Database, notified: list[dict[str, Any]],
        recorder: Recorder) -> None:
    walk = make_event(test=True)
    periodic = make_event(kind="test", zone="gate-button")
    ingestor.handle(*event_message(walk))
    ingestor.handle(*event_message(periodic))
    assert incident_rows(db) == [] and notified == []
    assert db.execute("SELECT count(*) FROM events WHERE incident_id IS NULL").fetchone()[0] == 2
    assert db.execute("SELECT test FROM events WHERE event_id = ?",
                      [walk.event_id]).fetchone()[0] == 1
    assert recorder.stages(walk.event_id) == ["stored"]  # still confirmed to the device
    ingestor.handle(*event_message(make_event()))
    ingestor.handle(*event_message(make_event(test=True)))
    assert incident_rows(db)[0]["event_count"] == 1


def test_trouble_is_kept_apart_from_alarm(ingestor: Ingestor, db: Database) -> None:
    ingestor.handle(*event_message(make_event(kind="smoke", zone="dorm-2f-smoke")))
    ingestor.handle(*event_message(make_event(kind="smoke", state="trouble",
                                              zone="kitchen-heat")))
    ingestor.handle(*event_message(make_event(kind="power", state="alarm", zone="mains")))
    rows = {r["category"]: r for r in incident_rows(db)}
    assert set(rows) == {"alarm", "trouble"}
    assert rows["trouble"]["zones"] == {"kitchen-heat": "trouble", "mains": "trouble"}
    assert rows["alarm"]["event_count"] == 1


def test_restore_updates_the_incident_and_never_opens_one(
        ingestor: Ingestor, db: Database) -> None:
    ingestor.handle(*event_message(make_event(state="restore", zone="gate-button")))
    assert incident_rows(db) == []
    ingestor.handle(*event_message(make_event(kind="smoke", zone="dorm-2f-smoke")))
    restore = make_event(kind="smoke", state="restore", zone="dorm-2f-smoke")
    ingestor.handle(*event_message(restore))
    (row,) = incident_rows(db)
    assert row["zones"] == {"dorm-2f-smoke": "restored"} and row["event_count"] == 2
    assert [e["action"] for e in incidents.incident_log(db, row["id"])] == ["opened",
                                                                             "restored"]


def test_lifecycle_records_who_and_when_and_sends_receipts(
        ingestor: Ingestor, db: Database, recorder: Recorder) -> None:
    first, second = make_event(), make_event(zone="dorm-2f-smoke", kind="smoke")
    ingestor.handle(*event_message(first))
    ingestor.handle(*event_message(second))
    (inc,) = incident_rows(db)
    now = utcnow()
    ack = transition(db, inc["id"], "acknowledge", "officer-li", now)
    assert ack.incident["status"] == "acknowledged"
    assert ack.incident["acknowledged_by"] == "officer-li"
    assert [(d, r.event_id, r.stage, r.by) for d, r in ack.receipts] == [
        ("school-01", first.event_id, Stage.ACKNOWLEDGED, "officer-li"),
        ("school-01", second.event_id, Stage.ACKNOWLEDGED, "officer-li")]
    transition(db, inc["id"], "dispatch", "officer-wang", now, note="fire brigade called")
    done = transition(db, inc["id"], "resolve", "officer-li", now,
                      outcome=Outcome.FALSE_ALARM, note="dust")
    assert done.incident["status"] == "resolved" and done.incident["outcome"] == "false_alarm"
    assert {r.outcome for _, r in done.receipts} == {Outcome.FALSE_ALARM}
    closed = transition(db, inc["id"], "close", "leader-zhao", now)
    assert closed.incident["status"] == "closed" and closed.receipts == []
    log = incidents.incident_log(db, inc["id"])
    assert [(e["action"], e["actor"]) for e in log] == [
        ("opened", "system"), ("event", "system"), ("acknowledge", "officer-li"),
        ("dispatch", "officer-wang"), ("resolve", "officer-li"), ("close", "leader-zhao")]
    assert log[3]["detail"]["note"] == "fire brigade called"
    assert all(e["at"] for e in log)


def test_invalid_transitions_are_refused(ingestor: Ingestor, db: Database) -> None:
    ingestor.handle(*event_message(make_event()))
    transition(db, 1, "acknowledge", "officer-li", utcnow())
    with pytest.raises(TransitionError, match="it is acknowledged.*officer-li"):
        transition(db, 1, "acknowledge", "officer-wang", utcnow())
    with pytest.raises(TransitionError, match="resolve needs an outcome"):
        transition(db, 1, "resolve", "officer-li", utcnow())
    with pytest.raises(TransitionError, match="cannot close"):
        transition(db, 1, "close", "officer-li", utcnow())
    with pytest.raises(TransitionError, match="actor"):
        transition(db, 1, "dispatch", "  ", utcnow())
    with pytest.raises(IncidentNotFound):
        transition(db, 99, "acknowledge", "officer-li", utcnow())
    assert [e["action"] for e in incidents.incident_log(db, 1)] == ["opened", "acknowledge"]


def test_a_new_alarm_after_resolve_opens_a_new_incident(
        ingestor: Ingestor, db: Database) -> None:
    ingestor.handle(*event_message(make_event()))
    transition(db, 1, "resolve", "officer-li", utcnow(), outcome=Outcome.TEST)
    ingestor.handle(*event_message(make_event()))
    assert [(r["id"], r["status"]) for r in incident_rows(db)] == [(2, "new"), (1, "resolved")]
    assert [r["id"] for r in incidents.list_incidents(db)] == [2]
