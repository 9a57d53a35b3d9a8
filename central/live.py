"""Live push to duty consoles over a WebSocket.

``GET /ws?station=ID`` (``station`` optional: every station the user sees). It needs
a logged-in session cookie and an allowed ``Origin`` (see :mod:`central.api.deps`):
without a session the handshake is answered HTTP 401, from a foreign origin 403.
A console receives only incidents of its user's part of the organisation
(:class:`Scope`); ``station`` narrows that, never widens it. Messages, JSON:

* first ``{"type": "snapshot", "incidents": [...]}``: the open incidents of the
  station, newest first, as ``GET /api/incidents`` returns them;
* then ``{"type": "incident", "incident": {...}}`` for every incident of that
  station that is opened or changes (including the change that resolves or
  closes it, so a console removes it). Every incident carries ``version``,
  which grows with every change: a console keeps the highest version it has
  seen and ignores older copies;
* ``{"type": "frame", "frame": {...}}`` when a camera frame of an incident the
  console receives is stored: the snapshot's index row (id, incident_id, phase,
  camera, ts, size, ...), its ``url`` and the incident's ``station_id`` and
  ``venue_id``; never the JPEG itself, which the console loads from ``url``. Only
  for users who may read snapshots (``snapshot.read``);
* ``{"type": "pong", "id": ...}`` in answer to a ``{"type": "ping", "id": ...}``
  the console sent (``id`` echoed if it is a number or a string of at most
  :data:`MAX_PING_ID` characters, else null), through the same queue as
  the incidents: it proves the push path is alive end to end. A ping also counts
  as use of the session (the duty-room screen stays logged in); when the session
  has ended (logout, disabled user, timeout) the socket is closed with code
  :data:`SESSION_ENDED_CLOSE_CODE`. Anything else a console sends is ignored.

Changes are committed on central's writer thread (:mod:`central.db.writer`),
which hands incidents over with ``loop.call_soon_threadsafe``
(:meth:`LiveHub.submit_threadsafe`). Each client has a bounded queue; a client too
slow to drain it is disconnected (close code 1013, "try again later") so that
it can never hold up ingest or the other consoles. Test events never open an
incident and therefore never appear here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

logger = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 256
SLOW_CLIENT_CLOSE_CODE = 1013
MAX_PING_ID = 64
SESSION_ENDED_CLOSE_CODE = 4401


@dataclass(frozen=True)
class Scope:
    """What a console may receive: None = every station / every venue of them;
    ``frames``: camera frames too (the user may read snapshots)."""

    stations: frozenset[str] | None = None
    venues: frozenset[str] | None = None
    frames: bool = True

    def sees(self, incident: dict[str, Any]) -> bool:
        if self.stations is not None and incident.get("station_id") not in self.stations:
            return False
        return self.venues is None or incident.get("venue_id") in self.venues


@dataclass(eq=False)
class _Client:
    station: str | None
    scope: Scope = field(default_factory=Scope)
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_SIZE))
    dropped: bool = False


class LiveHub:
    """Fans incident changes out to connected consoles."""

    def __init__(self) -> None:
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the event loop that owns the WebSockets (call from the loop)."""
        self._loop = loop

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def submit_threadsafe(self, incident: dict[str, Any]) -> None:
        """Hand an incident over from any thread (the ingest thread). Never blocks."""
        loop = self._loop
        if loop is None or loop.is_closed():
            logger.debug("no live hub loop; incident %s not pushed", incident.get("id"))
            return
        try:
            loop.call_soon_threadsafe(self.broadcast, incident)
        except RuntimeError:  # the loop shut down between the check and the call
            logger.debug("live hub loop closed; incident %s not pushed", incident.get("id"))

    def push_about_threadsafe(self, message: dict[str, Any]) -> None:
        """:meth:`push_about` from any thread; ``message`` carries station_id and venue_id."""
        loop = self._loop
        if loop is None or loop.is_closed():
            logger.debug("no live hub loop; %s not pushed", message.get("type"))
            return
        try:
            loop.call_soon_threadsafe(self.push_about, message, message)
        except RuntimeError:  # the loop shut down between the check and the call
            logger.debug("live hub loop closed; %s not pushed", message.get("type"))

    def submit_frame_threadsafe(self, frame: dict[str, Any]) -> None:
        """Hand a stored frame's metadata over from any thread. Never blocks."""
        loop = self._loop
        if loop is None or loop.is_closed():
            logger.debug("no live hub loop; frame %s not pushed", frame.get("id"))
            return
        try:
            loop.call_soon_threadsafe(self.broadcast_frame, frame)
        except RuntimeError:  # the loop shut down between the check and the call
            logger.debug("live hub loop closed; frame %s not pushed", frame.get("id"))

    def broadcast(self, incident: dict[str, Any]) -> None:
        """Queue an incident for every interested client. Call on the loop thread."""
        self._fan_out({"type": "incident", "incident": incident}, incident)

    def broadcast_frame(self, frame: dict[str, Any]) -> None:
        """Queue a frame's metadata for every client that sees its incident and may see
        pictures. Call on the loop thread."""
        self._fan_out({"type": "frame", "frame": frame}, frame, frames=True)

    def push_about(self, message: dict[str, Any], about: dict[str, Any]) -> None:
        """Queue ``message`` for every client that sees ``about`` (its ``station_id`` and
        ``venue_id``), e.g. a live session's end. Call on the loop thread."""
        self._fan_out(message, about)

    def _fan_out(self, message: dict[str, Any], about: dict[str, Any], *,
                 frames: bool = False) -> None:
        """``about`` carries the ``station_id`` and ``venue_id`` the scope checks."""
        for client in list(self._clients):
            if client.station is not None and client.station != about.get("station_id"):
                continue
            if not client.scope.sees(about) or (frames and not client.scope.frames):
                continue
            self._queue(client, message)

    def _queue(self, client: _Client, message: dict[str, Any]) -> None:
        if client.dropped:
            return
        try:
            client.queue.put_nowait(message)
        except asyncio.QueueFull:
            logger.warning("console (station %s) too slow: %d messages waiting; dropping it",
                           client.station, client.queue.qsize())
            self._drop(client)

    def _drop(self, client: _Client) -> None:
        client.dropped = True
        self._clients.discard(client)
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queue.put_nowait(None)  # wakes the sender, which closes the socket

    async def serve(self, websocket: WebSocket, station: str | None,
                    snapshot: Callable[[str | None], Awaitable[list[dict[str, Any]]]], *,
                    scope: Scope | None = None,
                    alive: Callable[[], Awaitable[bool]] | None = None) -> None:
        """Run one console connection until it closes or is dropped.

        The client is registered before the snapshot is read (off the loop, by
        ``snapshot``), so every change is in the snapshot, in the queue, or in
        both (then the queued copy is not newer and the console ignores it).
        ``scope`` filters what the client gets (the snapshot too); ``alive`` is
        awaited on every ping: False closes the socket (the session ended).
        """
        await websocket.accept()
        client = _Client(station, scope or Scope())
        self._clients.add(client)
        try:
            incidents = [i for i in await snapshot(station) if client.scope.sees(i)]
            await websocket.send_json({"type": "snapshot", "incidents": incidents})
            receiver = asyncio.create_task(self._drain_incoming(websocket, client, alive))
            try:
                while True:
                    getter = asyncio.create_task(client.queue.get())
                    done, _ = await asyncio.wait({getter, receiver},
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if receiver in done:
                        getter.cancel()
                        if not receiver.cancelled() and receiver.exception() is None \
                                and receiver.result() == "session ended":
                            client.dropped = True
                            await websocket.close(SESSION_ENDED_CLOSE_CODE, "session ended")
                        return
                    message = getter.result()
                    if message is None:
                        await websocket.close(SLOW_CLIENT_CLOSE_CODE, "console too slow")
                        return
                    await websocket.send_json(message)
            finally:
                receiver.cancel()
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            logger.debug("console connection ended: %s", exc)
        finally:
            self._clients.discard(client)
            if websocket.client_state == WebSocketState.CONNECTED and not client.dropped:
                try:
                    await websocket.close()
                except (RuntimeError, OSError) as exc:  # the client went away first
                    logger.debug("closing console socket: %s", exc)

    async def _drain_incoming(self, websocket: WebSocket, client: _Client,
                              alive: Callable[[], Awaitable[bool]] | None) -> str:
        """Answer pings; reading also notices when the console goes away."""
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return "disconnected"
            ping = _parse_ping(message.get("text"))
            if ping is not None:
                if alive is not None and not await alive():
                    return "session ended"
                ping_id = ping.get("id")
                if isinstance(ping_id, bool) or not isinstance(ping_id, int | float | str) or (
                        isinstance(ping_id, str) and len(ping_id) > MAX_PING_ID):
                    ping_id = None
                self._queue(client, {"type": "pong", "id": ping_id})


def _parse_ping(text: str | None) -> dict[str, Any] | None:
    """The message as a dict if it is a ``{"type": "ping"}``, else None."""
    if not text:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if isinstance(message, dict) and message.get("type") == "ping":
        return message
    return None
