"""Consoles on every node: incident changes from PostgreSQL ``LISTEN/NOTIFY``.

Several ``central serve`` nodes share one PostgreSQL database behind a load balancer; a
duty officer's console is connected to one of them. An incident that another node (or an
ingest worker) stored must reach it too. A trigger on ``incidents``
(:data:`central.db.pg_dialect.POSTLUDE`) NOTIFYs every change's id on the channel
:data:`~central.db.pg_dialect.INCIDENT_CHANNEL`, tagged with the writing connection's
``application_name``. PostgreSQL delivers a notification when the transaction commits,
so a node killed after its commit still tells the others, and one that rolled back tells
nobody.

Each node runs one :class:`IncidentListener` thread: its own connection LISTENs, reads
each changed incident (coalescing repeats of the same id in one batch) and pushes it to
the node's consoles. It skips the changes tagged with its own node's writer, which the
node already pushed the moment it committed them. After a lost connection it reconnects
every ``retry_s`` and pushes nothing it could not read (the console re-reads the open
incidents when its WebSocket reconnects; the log says how long the listener was away).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from sqlite_utils import Database

from central import incidents
from central.db.pg_dialect import INCIDENT_CHANNEL
from central.db.pg_session import connect, first_line, keep_trying

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)


def writer_tag(node: str) -> str:
    """The ``application_name`` of a node's writer connection (the NOTIFY's origin)."""
    return f"alarmlink:{node}"[:63]


class IncidentListener:
    """One thread: LISTEN for incident changes, push those other writers made."""

    def __init__(self, url: str, node: str, push: Callable[[dict[str, Any]], None], *,
                 retry_s: float = 1.0) -> None:
        self.url = url
        self.own_tag = writer_tag(node)
        self.push = push
        self.retry_s = retry_s
        self.pushed = 0
        self._stop = threading.Event()
        self._listening = threading.Event()
        #: When the connection was lost (monotonic; None while listening).
        self._lost_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="incident-listener",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        keep_trying(self._stop, self.retry_s, self._listen, self._failed)

    def _failed(self, exc: Exception) -> None:
        self._listening.clear()
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            logger.warning("incident listener lost PostgreSQL (%s): consoles on this node "
                           "miss other nodes' changes until it reconnects; retrying every "
                           "%g s", first_line(exc), self.retry_s)

    def _listen(self) -> None:
        from central.db.pg_store import PgDatabase

        with connect(self.url, "alarmlink-listener") as conn, \
                connect(self.url, "alarmlink-listener-read") as read:
            conn.execute(f"LISTEN {INCIDENT_CHANNEL}".encode())
            self._listening.set()
            if self._lost_at is not None:
                logger.info("incident listener back after %.1f s",
                            time.monotonic() - self._lost_at)
                self._lost_at = None
            db = cast(Database, PgDatabase(read))
            while not self._stop.is_set():
                ids = self._batch(conn)
                for incident_id in ids:
                    incident = incidents.get_incident(db, incident_id)
                    if incident is not None:
                        self.push(incident)
                        self.pushed += 1

    def _batch(self, conn: psycopg.Connection[Any]) -> list[int]:
        """The ids of the notifications other writers sent, in order, each once: every
        notification that arrived in the next read of the socket (waiting up to 0.5 s)."""
        ids: dict[int, None] = {}
        # stop_after=1 ends after the first read, with all it brought (psycopg yields a
        # whole read): no added wait for an alarm, and a burst still comes in batches
        for note in conn.notifies(timeout=0.5, stop_after=1):
            tag, _, text = note.payload.rpartition(" ")
            if tag != self.own_tag and text.isdigit():
                ids[int(text)] = None
        return list(ids)
