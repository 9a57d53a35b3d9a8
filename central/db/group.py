"""Group commit: many small write jobs from the event loop in one transaction.

Each commit costs an fsync (``synchronous=FULL``, see :mod:`central.db.connection`), a
few milliseconds. A hundred panels reporting at once would otherwise queue a hundred
commits behind each other. :meth:`GroupCommit.run` queues a job and returns once the
transaction holding it is committed: the jobs waiting when the writer takes the group
job all run in ONE ``write_tx`` (each in its own savepoint, so one failing job is rolled
back alone), then one commit, then every caller is answered. A caller is answered only
after the commit that made its job durable, exactly as with :meth:`Writer.run`; what a
job announces to others (receipts, console pushes) goes through
:func:`central.db.after_commit` and happens after that commit too.

When the writer is idle, a job runs alone at once (no added latency); jobs only group
while the writer is busy, which is when grouping pays.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from central.db.connection import write_tx
from central.db.writer import Writer, WriterClosed

logger = logging.getLogger(__name__)

#: At most this many jobs share one transaction (bounds a transaction's length).
MAX_GROUP = 512

_Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


class GroupCommit:
    """Queues jobs ``fn(db, *args)`` for the writer and commits them in groups."""

    def __init__(self, writer: Writer, max_group: int = MAX_GROUP) -> None:
        self.writer = writer
        self.max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._scheduled = False
        #: Transactions committed and jobs they held (for the bench and diagnostics).
        self.groups = 0
        self.jobs = 0

    async def run(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        """Run ``fn(db, *args)`` on the writer; return its result once it is committed.

        Raises what ``fn`` raised (its savepoint is rolled back, the group goes on), the
        commit's ``sqlite3.Error`` (every job of the group gets it: nothing was stored),
        or :class:`~central.db.WriterClosed` when central is stopping.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            self._queue.append((fn, args, future))
            schedule = not self._scheduled
            self._scheduled = True
        if schedule:
            try:
                self.writer.submit(self._group, loop)
            except BaseException:
                with self._lock:
                    self._scheduled = False
                    jobs, self._queue = self._queue, []
                for _fn, _args, waiting in jobs:
                    if waiting is not future and not waiting.done():
                        waiting.set_exception(WriterClosed("writer closed: job not run"))
                raise
        return await future

    def _take(self) -> list[_Job]:
        with self._lock:
            jobs = self._queue[: self.max_group]
            del self._queue[: self.max_group]
            self._scheduled = bool(self._queue)
            return jobs

    def _group(self, db: Database, loop: asyncio.AbstractEventLoop) -> None:
        """The writer job: every job waiting now, one transaction, then the answers."""
        jobs = self._take()
        if self._scheduled:  # more than max_group were waiting: another job for the rest
            self.writer.submit(self._group, loop)
        outcomes: list[tuple[bool, Any]] = []
        try:
            with write_tx(db):
                for fn, args, _future in jobs:
                    try:
                        with write_tx(db):  # nested: a savepoint (both backends)
                            outcomes.append((True, fn(db, *args)))
                    except Exception as exc:  # that job alone fails; its caller gets it
                        outcomes.append((False, exc))
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of the group is stored
            logger.error("group commit of %d jobs failed: %s", len(jobs), exc)
            outcomes = [(False, exc)] * len(jobs)
        else:
            self.groups += 1
            self.jobs += len(jobs)
        try:
            loop.call_soon_threadsafe(_settle, jobs, outcomes)
        except RuntimeError:  # the loop closed while the group ran
            logger.debug("group commit finished after its event loop closed")


def _settle(jobs: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
    for (fn, _args, future), (ok, value) in zip(jobs, outcomes, strict=True):
        if future.cancelled():
            if not ok:
                logger.error("write %s failed after its caller went away: %s",
                             getattr(fn, "__qualname__", fn), value)
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
