"""Live audio/video sessions: central relays WebRTC signalling between a duty console
(HTTPS/WebSocket) and the venue agent (MQTT ``rtc`` / ``rtc/reply``), and records who
opened which session for which incident, when.

There is no trickle ICE: the console sends one offer with its candidates gathered,
central publishes it to the device that raised the incident and waits (up to
:data:`ANSWER_TIMEOUT_S`) for the agent's one answer. Media flows directly between the
browser and the agent on the station network (host candidates only). When the agent
ends a session (``bye``: time limit, peer gone) or fails, the consoles that see the
incident get ``{"type": "av", "session_id", "incident_id", "state", "reason"}`` over
the WebSocket.

Every session that was open ends exactly once on the incident's timeline (``av_close``,
:func:`log_close`): by the officer who closed it (the API route), by the device that
ended it (its ``bye`` or error, with the reason), or by whoever resolved the incident.
The session is taken out of :attr:`AvRelay.sessions` by whichever comes first, and only
that one records the close.

The relay lives on the event loop; :meth:`AvRelay.on_reply` is called on the ingest
thread and hands over with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from alarmlink import wire
from central import incidents
from central.db import iso
from central.db.writer import Writer

logger = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 10.0
#: The longest session central asks for (the agent's ``[rtc] max_s`` may cut it shorter).
SESSION_MAX_S = 900


class AvError(Exception):
    """The session could not be opened; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class AvSession:
    session_id: str
    incident_id: int
    station_id: str
    venue_id: str
    device_id: str
    by: str


def log_close(db: Database, session: AvSession, actor: str, reason: str) -> None:
    """The session's end on its incident's timeline (``av_close``), with who ended it."""
    incidents.log_action(db, session.incident_id, iso(wire.utcnow()), actor, "av_close",
                         {"session_id": session.session_id, "reason": reason[:256]})


#: record_close(session, actor, reason): a session ended other than by an officer's close
#: through the API (the device's ``bye``, the incident resolved); writes :func:`log_close`.
RecordClose = Callable[[AvSession, str, str], None]


def close_recorder(writer: Writer) -> RecordClose:
    """A :data:`RecordClose` that queues :func:`log_close` on the writer (never waits:
    it is called on the event loop); a failed write is logged."""
    def record(session: AvSession, actor: str, reason: str) -> None:
        def done(future: Future[None]) -> None:
            if (exc := future.exception()) is not None:
                logger.error("end of live session %s not on the timeline: %s",
                             session.session_id, exc)
        writer.submit(log_close, session, actor, reason).add_done_callback(done)
    return record


class AvRelay:
    """Pending offers and open sessions, keyed by session id."""

    def __init__(self, topics: wire.Topics, publish: Callable[[str, bytes], None],
                 push: Callable[[dict[str, Any], dict[str, Any]], None],
                 record_close: RecordClose | None = None) -> None:
        self.topics = topics
        self.publish = publish
        self.push = push
        self.record_close = record_close
        self.sessions: dict[str, AvSession] = {}
        self._answers: dict[str, asyncio.Future[wire.RtcSignal]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def on_reply(self, device_id: str, signal: wire.RtcSignal) -> None:
        """From the ingest thread: an agent's answer, error or bye."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._reply, device_id, signal)
        except RuntimeError:
            logger.debug("av relay loop closed; %s from %s dropped", signal.kind, device_id)

    def _reply(self, device_id: str, signal: wire.RtcSignal) -> None:
        future = self._answers.get(signal.session_id)
        if future is not None and not future.done():
            future.set_result(signal)
            return
        session = self.sessions.get(signal.session_id)
        if session is None or session.device_id != device_id:
            logger.debug("rtc %s from %s for unknown session %s", signal.kind, device_id,
                         signal.session_id)
            return
        if signal.kind in (wire.RtcKind.BYE, wire.RtcKind.ERROR):
            self.sessions.pop(signal.session_id, None)
            reason = signal.reason or str(signal.kind)
            self._record(session, device_id, reason)
            self._announce(session, "ended", reason)

    def _record(self, session: AvSession, actor: str, reason: str) -> None:
        if self.record_close is None:
            return
        try:
            self.record_close(session, actor, reason)
        except RuntimeError as exc:   # the writer is closed: central is stopping
            logger.warning("end of live session %s not on the timeline: %s",
                           session.session_id, exc)

    def _announce(self, session: AvSession, state: str, reason: str) -> None:
        self.push({"type": "av", "session_id": session.session_id,
                   "incident_id": session.incident_id, "state": state, "reason": reason},
                  {"station_id": session.station_id, "venue_id": session.venue_id})

    async def open(self, incident: dict[str, Any], device_id: str, by: str, sdp: str, *,
                   max_kbps: int | None = None,
                   max_height: int | None = None) -> tuple[AvSession, str]:
        """Relay the console's offer; return the session and the agent's answer SDP.

        ``max_kbps``/``max_height``: the venue's caps from the registry, sent with the
        offer (the agent applies the lower of these and its own ``[rtc]``)."""
        session = AvSession(wire.new_id(), int(incident["id"]), incident["station_id"],
                            incident["venue_id"], device_id, by)
        future: asyncio.Future[wire.RtcSignal] = asyncio.get_running_loop().create_future()
        self._answers[session.session_id] = future
        offer = wire.RtcSignal(session_id=session.session_id, kind=wire.RtcKind.OFFER,
                               ts=wire.utcnow(), sdp=sdp, incident_id=session.incident_id,
                               by=by, max_s=SESSION_MAX_S, max_kbps=max_kbps,
                               max_height=max_height)
        try:
            self.publish(self.topics.rtc(device_id), wire.encode(offer))
            try:
                reply = await asyncio.wait_for(future, ANSWER_TIMEOUT_S)
            except TimeoutError:
                self._bye(device_id, session.session_id, "no answer in time")
                raise AvError(504, f"the venue device {device_id} did not answer within "
                                   f"{ANSWER_TIMEOUT_S:.0f} s: it is offline, or its [rtc] "
                                   "table is missing (docs/reference.md, live audio and "
                                   "video)") from None
        finally:
            self._answers.pop(session.session_id, None)
        if reply.kind != wire.RtcKind.ANSWER or not reply.sdp:
            raise AvError(502, f"the venue device {device_id} could not start the session: "
                               f"{reply.reason or reply.kind}")
        self.sessions[session.session_id] = session
        return session, reply.sdp

    def close(self, session_id: str, reason: str) -> AvSession | None:
        """End an open session (tell the device). Returns it, or None when it had already
        ended: the caller that gets it records the close (:func:`log_close`)."""
        session = self.sessions.pop(session_id, None)
        if session is not None:
            self._bye(session.device_id, session_id, reason)
        return session

    def close_incident(self, incident_id: int, reason: str, actor: str) -> list[AvSession]:
        """End every session of an incident (``actor`` resolved it)."""
        ended = [s for s in self.sessions.values() if s.incident_id == incident_id]
        for session in ended:
            if self.close(session.session_id, reason) is not None:
                self._record(session, actor, reason)
            self._announce(session, "ended", reason)
        return ended

    def incident_resolved_threadsafe(self, incident_id: int, actor: str) -> None:
        """From any thread: ``actor`` resolved the incident, end its sessions."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self.close_incident, incident_id, "incident resolved",
                                      actor)
        except RuntimeError:
            logger.debug("av relay loop closed; sessions of incident %s not ended", incident_id)

    def _bye(self, device_id: str, session_id: str, reason: str) -> None:
        self.publish(self.topics.rtc(device_id), wire.encode(wire.RtcSignal(
            session_id=session_id, kind=wire.RtcKind.BYE, ts=wire.utcnow(),
            reason=reason[:256])))
