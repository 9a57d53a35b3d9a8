"""The one writer: a single thread that owns central's write connection.

Every write of the running central (ingest from the MQTT thread, the API's
actions, supervision, snapshot retention) is a job ``fn(db, *args)`` run, in
submission order, on this thread with this connection. So:

* the event loop never waits for SQLite: a commit's fsync, or a 15 s busy wait
  while another process (a CLI tool, a backup) holds the write lock, stalls the
  writer and the callers waiting for it, never the WebSockets;
* central's own writers never contend for SQLite's lock, they queue here.

Three ways in:

``await writer.run(fn, ...)``
    from the event loop; the coroutine waits, the loop does not. A job once
    submitted runs to the end even if the awaiting request is cancelled.
``writer.call(fn, ...)``
    blocks the calling thread (the MQTT thread: the broker is acknowledged only
    after the commit). Refused on the event loop given to :meth:`serve_loop`; on
    the writer thread itself it runs the job inline (a job may call code that
    calls the writer).
``writer.submit(fn, ...)``
    a :class:`concurrent.futures.Future`.
``writer.submit_urgent(fn, ...)``
    the same, ahead of every job not yet started (jobs already urgent keep their order;
    at most :data:`URGENT_RUN` urgent jobs in a row while others wait):
    ingest's drain when an alarm waits (central/ingest_queue.py), so an alarm never
    queues behind a supervision pass, an escalation tick or an officer's action.

A job that pushes to consoles hands the push to the loop thread-safely
(:meth:`central.live.LiveHub.submit_threadsafe`), or returns what to push and
lets the awaiting coroutine push it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlite_utils import Database

from central.db.connection import observe_commits
from central.db.outcomes import CommitLog

logger = logging.getLogger(__name__)

#: Most urgent jobs run in a row while other jobs wait.
URGENT_RUN = 4

P = ParamSpec("P")
T = TypeVar("T")


class WriterClosed(RuntimeError):
    """The writer was closed (central is stopping): the job was not run."""


class Writer:
    """Runs write jobs one at a time on its own thread, with its own connection."""

    def __init__(self, db: Database, *, name: str = "central-writer") -> None:
        #: The write connection. Use it only inside a job (on the writer thread).
        self.db = db
        self._name = name
        self._thread: threading.Thread | None = None
        self._thread_id: int | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        #: Jobs not started: urgent ones first, each lane in submission order.
        self._urgent: deque[_Job] = deque()
        self._normal: deque[_Job] = deque()
        self._urgent_run = 0  # urgent jobs run in a row
        self._pending = 0
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Submission times (monotonic) of unfinished jobs, oldest first (jobs run in order).
        self._submitted: dict[int, float] = {}
        self._ids = itertools.count()
        #: The last commit on this connection and the last failure (``/healthz``).
        self.commits = CommitLog()
        observe_commits(db, self.commits.record)

    @property
    def pending(self) -> int:
        """Jobs submitted and not finished (the one running included)."""
        return self._pending

    def oldest_pending_age_s(self) -> float:
        """How long the oldest unfinished job has waited or run (0 when idle): ingest lag."""
        with self._lock:
            oldest = next(iter(self._submitted.values()), None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    def serve_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The server's event loop: :meth:`call` refuses to block it."""
        self._loop = loop

    def on_writer_thread(self) -> bool:
        return threading.get_ident() == self._thread_id

    def submit(self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args,
               **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn(db, *args, **kwargs)``; raises :class:`WriterClosed` after :meth:`close`."""
        return self._enqueue(False, fn, *args, **kwargs)

    def submit_urgent(self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args,
                      **kwargs: P.kwargs) -> Future[T]:
        """:meth:`submit`, but ahead of every queued job that is not urgent itself."""
        return self._enqueue(True, fn, *args, **kwargs)

    def _enqueue(self, urgent: bool, fn: Callable[Concatenate[Database, P], T], /,
                 *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise WriterClosed(f"writer closed: {getattr(fn, '__qualname__', fn)} not run")
            job_id = next(self._ids)
            (self._urgent if urgent else self._normal).append(
                _Job(job_id, future, lambda: fn(self.db, *args, **kwargs)))
            self._pending += 1
            self._submitted[job_id] = time.monotonic()
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=f"{self._name}_0",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()
        return future

    def _serve(self) -> None:
        """The writer thread: runs jobs, urgent first, until closed and drained."""
        self._thread_id = threading.get_ident()
        while True:
            with self._lock:
                while not self._urgent and not self._normal and not self._closed:
                    self._wake.wait()
                if not self._urgent and not self._normal:
                    return  # closed, nothing left
                # urgent first, but never more than URGENT_RUN in a row while others wait
                # (a flood of events must not starve supervision and officers' actions)
                urgent = bool(self._urgent) and (not self._normal
                                                 or self._urgent_run < URGENT_RUN)
                self._urgent_run = self._urgent_run + 1 if urgent else 0
                job = self._urgent.popleft() if urgent else self._normal.popleft()
            if job.future.set_running_or_notify_cancel():
                try:
                    result = self._job(job.run)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    job.future.set_exception(exc)
                else:
                    job.future.set_result(result)
            self._finished(job.id)

    def call(self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args,
             **kwargs: P.kwargs) -> T:
        """Run ``fn(db, ...)`` on the writer and wait for its result (or exception)."""
        if self.on_writer_thread():
            return fn(self.db, *args, **kwargs)
        if self._loop is not None and _running_loop() is self._loop:
            raise RuntimeError("Writer.call() would block the event loop; await Writer.run()")
        return self.submit(fn, *args, **kwargs).result()

    async def run(self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args,
                  **kwargs: P.kwargs) -> T:
        """Run ``fn(db, ...)`` on the writer; the awaiting coroutine waits, the loop does not."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()
        future = self.submit(fn, *args, **kwargs)

        def settle(done: Future[T]) -> None:
            if waiter.cancelled():  # nobody awaits the result: do not lose a failure silently
                if not done.cancelled() and done.exception() is not None:
                    logger.error("write %s failed after its caller went away",
                                 getattr(fn, "__qualname__", fn), exc_info=done.exception())
                return
            if done.cancelled():
                waiter.cancel()
                return
            exc = done.exception()
            if exc is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(done.result())

        def hand_over(done: Future[T]) -> None:
            try:
                loop.call_soon_threadsafe(settle, done)
            except RuntimeError:  # the loop closed while the job ran
                logger.debug("writer job finished after its event loop closed")

        future.add_done_callback(hand_over)
        # Cancelling the caller cancels only the wait: the write itself still happens.
        return await waiter

    def close(self) -> None:
        """Refuse new jobs, finish the queued ones, close the connection."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread.ident != threading.get_ident():
            thread.join()
        self.db.close()
        logger.debug("writer closed")

    def _job(self, run: Callable[[], T]) -> T:
        try:
            return run()
        except sqlite3.Error as exc:  # a write outside write_tx, or one it did not see
            self.commits.record(exc)
            raise

    def _finished(self, job_id: int) -> None:
        with self._lock:
            self._pending -= 1
            self._submitted.pop(job_id, None)


@dataclass
class _Job:
    id: int
    future: Future[Any]
    run: Callable[[], Any]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # no loop runs in this thread
        return None
