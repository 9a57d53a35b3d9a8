"""The one writer: order, errors, no blocking of the loop, cancelled callers, closing
(on both backends)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import both_backends
import pytest
from sqlite_utils import Database

from central.db import Writer, WriterClosed, query_one, write_tx
from central.db.backend import open_database

backend, db_target = both_backends.backend, both_backends.db_target


def _insert(db: Database, name: str) -> int:
    with write_tx(db):
        db.execute("INSERT INTO counties (id, name) VALUES (?, ?)", [name, name.upper()])
    return threading.get_ident()


def _count(db: Database) -> int:
    row = query_one(db, "SELECT count(*) AS n FROM counties")
    assert row is not None
    return int(row["n"])


def test_jobs_run_in_order_on_one_thread_and_errors_reach_the_caller(db_target: Path | str) -> None:
    writer = Writer(open_database(db_target))
    try:
        threads = {writer.call(_insert, f"c{n}") for n in range(5)}
        assert len(threads) == 1 and threading.get_ident() not in threads
        assert writer.call(_count) == 5
        with pytest.raises(Exception, match="(?i)unique"):
            writer.call(_insert, "c0")
        # a job that calls the writer again runs inline instead of deadlocking
        assert writer.call(lambda db: writer.call(_count)) == 5
        assert writer.pending == 0
    finally:
        writer.close()
    with pytest.raises(WriterClosed):
        writer.submit(_count)


def test_the_loop_awaits_and_a_cancelled_caller_does_not_undo_the_write(
        db_target: Path | str) -> None:
    writer = Writer(open_database(db_target))
    gate = threading.Event()

    def slow_insert(db: Database) -> None:
        assert gate.wait(10)
        _insert(db, "late")

    async def scenario() -> None:
        writer.serve_loop(asyncio.get_running_loop())
        with pytest.raises(RuntimeError, match="would block the event loop"):
            writer.call(_count)
        task = asyncio.create_task(writer.run(slow_insert))
        await asyncio.sleep(0)  # let the task submit its job
        task.cancel()
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await writer.run(_count) == 1  # queued behind the cancelled caller's job

    try:
        asyncio.run(scenario())
    finally:
        writer.close()
