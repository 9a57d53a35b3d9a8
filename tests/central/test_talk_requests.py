"""Issue 18: a venue's talk request at central (central/talk.py), on SQLite and PostgreSQL.

With no alarm open it opens a ``talk_request`` incident for the venue's station; a
repeat of the same request (MQTT QoS 1) is logged, audited and opens an incident once but
is answered again (``talk_received``); a later alarm joins that incident.
"""

from __future__ import annotations

from typing import Any

import both_backends
from central_testkit import TOPICS, Recorder, event_message, make_event
from sqlite_utils import Database

from alarmlink import wire
from central.ingest import Ingestor

backend, db, ingestor = both_backends.backend, both_backends.db, both_backends.ingestor


def rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.execute(sql).fetchall()]


def answers(recorder: Recorder) -> list[wire.RtcSignal]:
    return [wire.decode(wire.RtcSignal, payload) for topic, payload in recorder.messages
            if topic == TOPICS.rtc("school-01")]


def test_a_talk_request_without_an_alarm_opens_an_incident_for_the_station(
        ingestor: Ingestor, db: Database, recorder: Recorder,
        notified: list[dict[str, Any]]) -> None:
    pushed: list[dict[str, Any]] = []
    ingestor.on_talk = pushed.append
    request = wire.RtcSignal(session_id=wire.new_id(), kind=wire.RtcKind.TALK_REQUEST,
                             ts=wire.utcnow(), zone="gate-talk")
    for _ in range(2):   # the second is a QoS 1 repeat of the same request
        ingestor.handle(TOPICS.rtc_reply("school-01"), wire.encode(request))

    assert rows(db, "SELECT category, kind, kinds, zones, station_id, status, venue_id "
                    "FROM incidents") == [
        ("alarm", "talk_request", '["talk_request"]', '{"gate-talk": "talk"}', "chengxiang",
         "new", "school-01")]
    assert rows(db, "SELECT actor, action FROM incident_log ORDER BY id") == [
        ("system", "opened"), ("device:school-01", "talk_request")]
    assert rows(db, "SELECT username, action, object FROM audit_log WHERE action = "
                    "'av.talk_request'") == [("device:school-01", "av.talk_request",
                                              "incident:1")]
    assert rows(db, "SELECT count(*) FROM dead_letters") == [(0,)]
    assert [n["id"] for n in notified] and notified[-1]["kinds"] == ["talk_request"]
    assert [(p["incident_id"], p["zone"], p["opened"]) for p in pushed] == [
        (1, "gate-talk", True), (1, "gate-talk", False)]
    assert [(a.kind, a.session_id, a.incident_id) for a in answers(recorder)] == [
        (wire.RtcKind.TALK_RECEIVED, request.session_id, 1)] * 2

    # the alarm that follows joins the incident the talk request opened
    ingestor.handle(*event_message(make_event()))
    assert rows(db, "SELECT count(*), max(event_count), max(kinds) FROM incidents") == [
        (1, 1, '["talk_request", "panic"]')]
