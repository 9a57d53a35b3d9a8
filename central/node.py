"""This central's place among the nodes of one database: its name, leadership, the run-once
work that follows leadership, and (on PostgreSQL) the other nodes' incident changes.

On SQLite there is one node, always the leader (:class:`central.leader.SingleNode`), and
nothing else here does anything. On PostgreSQL (``database_url``):

* :class:`central.leader.Leadership` decides which node runs the run-once work; this
  module starts that work on the event loop when the node leads and stops it (the
  escalation thread at once) when it stops leading;
* the writer's session is named ``alarmlink:<node>`` and
  :class:`central.live_fanout.IncidentListener` pushes the incident changes of every
  other writer to this node's consoles;
* an ingest batch whose connection was lost ends the process before any PUBACK
  (:func:`central.ingest_worker.exit_if_database_lost`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any, cast

from sqlite_utils import Database

from central import audit_retention, dead_letters, recordings
from central.config import CentralConfig
from central.db import Writer, query_one
from central.db.backend import backend_name
from central.db.pg_store import PgDatabase
from central.ingest import Clock
from central.ingest_worker import exit_if_database_lost
from central.leader import Leadership, Role, SingleNode
from central.live_fanout import IncidentListener, writer_tag
from central.mqtt_bridge import MqttBridge
from central.recordings import RecordingFiles
from central.snapshots import SnapshotFiles, retention_loop

logger = logging.getLogger(__name__)

#: Starts the run-once tasks on the loop (retention loops); called when the node leads.
TaskFactory = Callable[[asyncio.AbstractEventLoop], list[asyncio.Task[None]]]


class Node:
    """Leadership and the cross-node incident feed of one ``central serve``."""

    def __init__(self, config: CentralConfig, writer: Writer,
                 push: Callable[[dict[str, Any]], None]) -> None:
        self.config = config
        self.writer = writer
        #: This node's name (``node_name``, default the host name) in /healthz and logs.
        self.name = config.node_name or socket.gethostname()
        self.database = backend_name(writer.db)
        #: Run-once work (escalation, supervision passes, retention) runs only on the
        #: leader: on PostgreSQL the node holding the advisory lock (central/leader.py).
        self.leadership: Leadership | SingleNode = SingleNode()
        #: On PostgreSQL: incidents other writers changed, pushed to this node's consoles.
        self.listener: IncidentListener | None = None
        if config.database_url is not None:
            self.leadership = Leadership(config.database_url, self.name)
            writer.call(_tag_writer, self.name)
            self.listener = IncidentListener(config.database_url, self.name, push)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_tasks: TaskFactory = lambda _loop: []
        self._escalator: Any = None
        self._escalate = False
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def role(self) -> Role:
        return self.leadership.role

    def is_leader(self) -> bool:
        return self.leadership.is_leader()

    def start(self, loop: asyncio.AbstractEventLoop, start_tasks: TaskFactory,
              escalator: Any, escalate: bool) -> None:
        """Campaign (on the loop thread); ``start_tasks(loop)`` and the escalator's
        ``start()`` run while this node leads, ``halt()`` and cancellation when it stops."""
        self._loop = loop
        self._start_tasks = start_tasks
        self._escalator = escalator
        self._escalate = escalate
        self.leadership.start(self._changed)
        if self.listener is not None:
            self.listener.start()

    def stop(self) -> None:
        self.leadership.stop()
        if self.listener is not None:
            self.listener.stop()

    def take_tasks(self) -> list[asyncio.Task[None]]:
        """The running run-once tasks, handed over to be cancelled (central stopping)."""
        tasks, self.tasks = self.tasks, []
        return tasks

    def guard_batch(self, handle_batch: Callable[[list[Any]], int | None]
                    ) -> Callable[[list[Any]], int | None]:
        """``handle_batch``, ending the process before any PUBACK when PostgreSQL is lost."""
        if self.config.database_url is None:
            return handle_batch
        url = self.config.database_url

        def guarded(deliveries: list[Any]) -> int | None:
            handled = handle_batch(deliveries)
            exit_if_database_lost(cast(PgDatabase, self.writer.db), f"central node {self.name}",
                                  url, len(deliveries))
            return handled

        return guarded

    def guard_bridge(self, bridge: MqttBridge | None) -> None:
        """The bridge's ingest batches through :meth:`guard_batch` (no-op without MQTT)."""
        if bridge is not None and bridge.queue is not None:
            bridge.queue.handle_batch = self.guard_batch(bridge.queue.handle_batch)

    def exit_if_database_lost(self, what: str) -> None:
        """After a failed write (``what``): on PostgreSQL with the writer's connection
        gone, end the process (the writer cannot reconnect by itself; a leader that cannot
        write must not keep the lock). The service manager starts it again."""
        if self.config.database_url is not None:
            exit_if_database_lost(cast(PgDatabase, self.writer.db),
                                  f"central node {self.name} ({what})",
                                  self.config.database_url, 0)

    def _changed(self, leader: bool) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if not leader and self._escalator is not None:
            self._escalator.halt()  # at once, not after a hop through the loop
        try:
            loop.call_soon_threadsafe(self._lead if leader else self._follow)
        except RuntimeError:  # the loop closed meanwhile (central stopping)
            logger.debug("leadership change after the loop closed")

    def _lead(self) -> None:
        if self.tasks or not self.leadership.is_leader() or self._loop is None:
            return
        self.tasks = self._start_tasks(self._loop)
        if self._escalate and self._escalator is not None:
            self._escalator.start()

    def _follow(self) -> None:
        if self._escalator is not None:
            self._escalator.halt()
        for task in self.take_tasks():
            task.cancel()


def _tag_writer(db: Database, node: str) -> None:
    """Name the writer's PostgreSQL session after the node: the incident NOTIFYs carry it,
    and this node's listener skips what the node already pushed itself."""
    query_one(db, "SELECT set_config('application_name', ?, false) AS tag", [writer_tag(node)])


def retention_tasks(loop: asyncio.AbstractEventLoop, writer: Writer,
                    snapshot_files: SnapshotFiles, recording_files: RecordingFiles,
                    config: CentralConfig, clock: Clock) -> list[asyncio.Task[None]]:
    """The run-once retention loops (snapshots, recordings, audit, dead letters): started
    while this node leads (:meth:`Node.start`), cancelled when it stops leading."""
    return [
        loop.create_task(retention_loop(writer, snapshot_files, config.snapshots, clock),
                         name="snapshot-retention"),
        loop.create_task(recordings.retention_loop(writer, recording_files, config.snapshots,
                                                   clock), name="recording-retention"),
        loop.create_task(audit_retention.retention_loop(writer, config.audit, clock),
                         name="audit-retention"),
        loop.create_task(dead_letters.retention_loop(writer, config.limits, clock),
                         name="dead-letter-retention"),
    ]
