"""Live sessions end exactly once on the incident's timeline (issue 18, line 3: the
timeline says who watched, and when the session ended): by the officer who closed it, by
the device that ended it (its ``bye``: the officer's browser went away, the time limit),
or by whoever resolved the incident — and a close that comes after another end is not
recorded twice.

The relay runs on an asyncio loop here with a stand-in publish; the timeline record is
written to a real database file by the same function central's writer runs.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from central_testkit import TOPICS, Recorder, event_message, make_event
from sqlite_utils import Database

from alarmlink import wire
from central.av import AvRelay, AvSession, log_close
from central.ingest import Ingestor

INCIDENT = {"id": 7, "station_id": "dading", "venue_id": "school"}


def opened(relay: AvRelay, published: Recorder) -> AvSession:
    """Open a session: the console's offer, the agent's answer."""
    async def scenario() -> AvSession:
        relay.bind(asyncio.get_running_loop())
        task = asyncio.ensure_future(relay.open(INCIDENT, "school-01", "li-duty", "v=0 offer"))
        while not published.messages:
            await asyncio.sleep(0)
        offer = wire.decode(wire.RtcSignal, published.messages[-1][1])
        relay._reply("school-01", wire.RtcSignal(session_id=offer.session_id,
                                                 kind=wire.RtcKind.ANSWER, ts=wire.utcnow(),
                                                 sdp="v=0 answer"))
        session, answer = await task
        assert answer == "v=0 answer"
        return session
    return asyncio.run(scenario())


def relay_with_log() -> tuple[AvRelay, Recorder, list[tuple[str, str, str]],
                              list[dict[str, Any]]]:
    published, ends, pushed = Recorder(), [], []
    relay = AvRelay(TOPICS, published, lambda message, _scope: pushed.append(message),
                    lambda session, actor, reason: ends.append(
                        (session.session_id, actor, reason)))
    return relay, published, ends, pushed


def test_a_device_bye_ends_the_session_once_and_a_late_officer_close_finds_it_ended() -> None:
    relay, published, ends, pushed = relay_with_log()
    session = opened(relay, published)
    # The officer's browser closed its connection first: the agent saw its peer go.
    relay._reply("school-01", wire.RtcSignal(session_id=session.session_id,
                                             kind=wire.RtcKind.BYE, ts=wire.utcnow(),
                                             reason="connection closed"))
    assert ends == [(session.session_id, "school-01", "connection closed")]
    assert pushed[-1]["state"] == "ended"
    assert session.session_id not in relay.sessions
    # The officer's close arrives after: nothing to close, nothing recorded again.
    assert relay.close(session.session_id, "closed by li-duty") is None
    assert len(ends) == 1


def test_a_bye_from_another_device_ends_nothing() -> None:
    relay, published, ends, _ = relay_with_log()
    session = opened(relay, published)
    relay._reply("hotel-01", wire.RtcSignal(session_id=session.session_id,
                                            kind=wire.RtcKind.BYE, ts=wire.utcnow()))
    assert ends == [] and session.session_id in relay.sessions


def test_resolving_the_incident_ends_its_sessions_in_the_resolvers_name() -> None:
    relay, published, ends, _ = relay_with_log()
    session = opened(relay, published)
    relay.close_incident(INCIDENT["id"], "incident resolved", "wang-duty")
    assert ends == [(session.session_id, "wang-duty", "incident resolved")]
    bye = wire.decode(wire.RtcSignal, published.messages[-1][1])
    assert (bye.kind, bye.session_id) == (wire.RtcKind.BYE, session.session_id)
    # The agent's bye that answers it is not a second end.
    relay._reply("school-01", wire.RtcSignal(session_id=session.session_id,
                                             kind=wire.RtcKind.BYE, ts=wire.utcnow()))
    assert len(ends) == 1


def test_an_officer_close_is_not_recorded_by_the_relay() -> None:
    """The route records it, awaiting the write (so the answer means it is on record)."""
    relay, published, ends, _ = relay_with_log()
    session = opened(relay, published)
    assert relay.close(session.session_id, "closed by li-duty") is session
    assert ends == []


def test_log_close_puts_who_and_why_on_the_timeline(db: Database) -> None:
    ingestor = Ingestor(db, TOPICS, Recorder(), lambda _incident: None)
    ingestor.handle(*event_message(make_event("school-01")))
    incident_id = int(db.execute("SELECT id FROM incidents").fetchone()[0])
    session = AvSession("s-1", incident_id, "dading", "school", "school-01", "li-duty")
    log_close(db, session, "school-01", "connection closed")
    row = db.execute("SELECT actor, detail FROM incident_log WHERE action = 'av_close'"
                     ).fetchone()
    assert row[0] == "school-01"
    assert json.loads(row[1]) == {"session_id": "s-1", "reason": "connection closed"}
