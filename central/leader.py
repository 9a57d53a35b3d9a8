"""Run-once work on one node: a PostgreSQL advisory lock held on a dedicated connection.

Several ``central serve`` nodes share one PostgreSQL database. Most of what a node does
is safe on every node at once (ingest deduplicates on ``event_id``; API requests are
independent), but some work must run on exactly one: escalation timers and the modem,
supervision passes, retention, telemetry rules. That work runs only while this node is
the **leader**: it holds the session-level advisory lock :data:`LEADER_LOCK` on a
connection of its own, which it uses for nothing else.

* A follower tries ``pg_try_advisory_lock`` every ``retry_s`` (1 s): when the leader
  dies, PostgreSQL ends its session (a killed process's socket closes at once; a machine
  that vanishes: TCP keepalive, about :data:`~central.db.pg_session.KEEPALIVE_S` seconds)
  and releases the lock,
  and the first follower to try takes it.
* The leader checks its connection every ``retry_s``; an error means the lock may be gone
  (PostgreSQL released it with the session): leadership ends at once, the work is told to
  stop (``on_change(False)``), and the node becomes a follower that retries.
* Nothing of the work's state lives in the node: escalation stages are claimed in the
  database before they are sent (one row per incident, stage, recipient and channel), so
  a new leader continues from the database where the old one stopped.

On SQLite there is one node: :class:`SingleNode` is always the leader.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from central.db.pg_session import connect, first_line, keep_trying

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

#: The advisory lock key of central's run-once work ("alarmlnk" in ASCII).
LEADER_LOCK = 0x616C61726D6C6E6B

Role = Literal["single", "leader", "follower"]
OnChange = Callable[[bool], None]


class SingleNode:
    """One central on SQLite: always the leader."""

    role: Role = "single"

    def is_leader(self) -> bool:
        return True

    def start(self, on_change: OnChange) -> None:
        on_change(True)

    def stop(self) -> None:
        return None


class Leadership:
    """Leader election between the central nodes of one PostgreSQL database."""

    def __init__(self, url: str, node: str, *, retry_s: float = 1.0,
                 connect: Callable[[str], psycopg.Connection[Any]] | None = None) -> None:
        self.url = url
        self.node = node
        self.retry_s = retry_s
        self._connect = connect or _connect
        self._conn: psycopg.Connection[Any] | None = None
        self._leader = threading.Event()
        self._stop = threading.Event()
        self._on_change: OnChange = lambda _leader: None
        self._thread: threading.Thread | None = None

    @property
    def role(self) -> Role:
        return "leader" if self._leader.is_set() else "follower"

    def is_leader(self) -> bool:
        return self._leader.is_set()

    def start(self, on_change: OnChange) -> None:
        """Campaign in a thread; ``on_change(True/False)`` when leadership is won or lost
        (called on that thread: it must not block)."""
        self._on_change = on_change
        self._thread = threading.Thread(target=self._run, name="leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Give leadership up (the lock goes with the connection) and stop campaigning."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._lose("central stopping")
        self._close()

    def _run(self) -> None:
        keep_trying(self._stop, self.retry_s, self._step, self._failed)

    def _failed(self, exc: Exception) -> None:
        self._lose(first_line(exc))
        self._close()

    def _step(self) -> None:
        if self._conn is None:
            self._conn = self._connect(self.url)
        if self._leader.is_set():
            self._conn.execute("SELECT 1")  # the lock lives as long as this session
            return
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", [LEADER_LOCK]).fetchone()
        if row is not None and row[0]:
            logger.info("node %s is now the leader: escalation, supervision and retention "
                        "run here", self.node)
            self._leader.set()
            self._on_change(True)

    def _lose(self, why: str) -> None:
        if not self._leader.is_set():
            if why != "central stopping" and not self._stop.is_set():
                logger.debug("node %s: leader lock not reachable: %s", self.node, why)
            return
        self._leader.clear()
        logger.warning("node %s is no longer the leader (%s): its run-once work stops; "
                       "another node takes over within seconds", self.node, why)
        self._on_change(False)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                logger.debug("closing the leader connection failed", exc_info=True)



def _connect(url: str) -> psycopg.Connection[Any]:
    return connect(url, "alarmlink-leader")
