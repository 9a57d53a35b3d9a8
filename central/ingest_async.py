"""The ingestor's entry points for callers on the event loop: central's SIA DC-09
receiver (a mixin of :class:`central.ingest.Ingestor`).

The MQTT path does not come here: paho's thread queues each message and the writer
commits batches (:mod:`central.ingest_queue`). The receiver awaits instead, and messages of
concurrent callers share one transaction through :class:`central.db.GroupCommit`.
"""

from __future__ import annotations

from sqlite_utils import Database

from central.db import GroupCommit


class AsyncEntry:
    """``await``-able :meth:`handle_many_async` and :meth:`dead_letter_async`."""

    db: Database
    #: Group commit for callers on the event loop (None without a writer: run inline).
    group: GroupCommit | None

    def _handle_safely(self, _db: Database, topic: str, payload: bytes) -> None:
        raise NotImplementedError

    def dead_letter(self, topic: str, payload: bytes, reason: str,
                    device_id: str | None = None) -> None:
        raise NotImplementedError

    async def handle_async(self, topic: str, payload: bytes) -> None:
        """:meth:`handle` for callers on the event loop (central's DC-09 receiver)."""
        await self.handle_many_async([(topic, payload)])

    async def handle_many_async(self, messages: list[tuple[str, bytes]]) -> None:
        """Process ``(topic, payload)`` messages in order; return once all are committed.

        Group commit (:class:`central.db.GroupCommit`): messages of concurrent callers
        that wait for the writer at the same time share one transaction and one fsync.
        """
        if self.group is None:
            self._handle_many(self.db, messages)
        else:
            await self.group.run(self._handle_many, messages)

    def _handle_many(self, db: Database, messages: list[tuple[str, bytes]]) -> None:
        for topic, payload in messages:
            self._handle_safely(db, topic, bytes(payload))

    async def dead_letter_async(self, topic: str, payload: bytes, reason: str,
                                device_id: str | None = None) -> None:
        """:meth:`dead_letter` for callers on the event loop (run on the writer)."""
        if self.group is None:
            self.dead_letter(topic, payload, reason, device_id)
        else:
            await self.group.run(self._dead_letter_job, topic, payload, reason, device_id)

    def _dead_letter_job(self, _db: Database, topic: str, payload: bytes, reason: str,
                         device_id: str | None) -> None:
        self.dead_letter(topic, payload, reason, device_id)
