"""Group commit (central/db/group.py): jobs waiting for the writer share one transaction,
every caller (and the DC-09 panel's ACK) is answered only after that commit (on both
backends)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import both_backends
import pytest
from both_backends import committed
from central_testkit import TOPICS, Recorder
from sqlite_utils import Database

from alarmlink.codecs import sia_dc09
from central.db import GroupCommit, Writer, after_commit, write_tx
from central.db.backend import open_database
from central.ingest import Ingestor
from central.receiver.accounts import AccountMap
from central.receiver.handler import Dc09Handler
from central.snapshots import SnapshotFiles

backend, db, db_target = both_backends.backend, both_backends.db, both_backends.db_target

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def _insert(db: Database, name: str) -> None:
    with write_tx(db):
        db.execute("INSERT INTO counties (id, name) VALUES (?, ?)", [name, name.upper()])


def _insert_then_fail(db: Database, name: str) -> None:
    _insert(db, name)
    raise ValueError("job failed after its insert")


async def _queued(group: GroupCommit, n: int) -> None:
    for _ in range(1000):  # each task queues on its first step; yield until all did
        if len(group._queue) >= n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(group._queue)} of {n} jobs queued")


def test_waiting_jobs_share_one_commit_and_are_answered_after_it(db_target: Path | str) -> None:
    writer = Writer(open_database(db_target))
    group = GroupCommit(writer)
    gate = threading.Event()
    seen_at_answer: list[int] = []
    announced: list[int] = []

    def insert_and_announce(db: Database, name: str) -> None:
        _insert(db, name)
        after_commit(db, lambda: announced.append(
            committed(db_target, f"SELECT count(*) FROM counties WHERE id = '{name}'")))

    async def scenario() -> None:
        writer.serve_loop(asyncio.get_running_loop())
        hold = asyncio.ensure_future(writer.run(lambda db: gate.wait(10)))
        tasks = [asyncio.create_task(group.run(insert_and_announce, f"g{n}"))
                 for n in range(40)]
        bad = asyncio.create_task(group.run(_insert_then_fail, "bad"))
        for task in tasks:
            task.add_done_callback(lambda _t: seen_at_answer.append(
                committed(db_target, "SELECT count(*) FROM counties WHERE id LIKE 'g%'")))
        await _queued(group, 41)
        assert not any(t.done() for t in tasks)  # the writer is held: nobody answered
        assert committed(db_target, "SELECT count(*) FROM counties WHERE id LIKE 'g%'") == 0
        gate.set()
        await hold
        await asyncio.gather(*tasks)
        with pytest.raises(ValueError, match="after its insert"):
            await bad

    try:
        asyncio.run(scenario())
    finally:
        writer.close()
    assert seen_at_answer == [40] * 40  # every answer came after the one commit of all 40
    assert announced == [1] * 40  # receipts/pushes only after the commit
    assert group.groups == 1 and group.jobs == 41
    assert committed(db_target, "SELECT count(*) FROM counties WHERE id = 'bad'") == 0


def test_a_failed_group_announces_nothing(db_target: Path | str) -> None:
    db = open_database(db_target)
    announced: list[str] = []
    with pytest.raises(RuntimeError), write_tx(db):
        after_commit(db, lambda: announced.append("early"))
        raise RuntimeError("rolled back")
    with write_tx(db):
        after_commit(db, lambda: announced.append("after"))
        assert announced == []
    assert announced == ["after"]
    db.close()


def test_no_dc09_ack_before_the_commit_while_the_writer_is_held(db: Database,
                                                                db_target: Path | str,
                                                                tmp_path: Path) -> None:
    writer = Writer(open_database(db_target))
    recorder = Recorder()
    ingestor = Ingestor(writer, TOPICS, recorder, clock=lambda: NOW,
                        snapshot_files=SnapshotFiles(tmp_path / "snapshots"))

    async def load() -> dict[str, str]:
        return {"1234": "school-01"}

    handler = Dc09Handler(ingestor, TOPICS, AccountMap(load), lambda: NOW)
    raw = sia_dc09.encode_message(seq=7, account="1234", data="#1234|NFA129",
                                  receiver="579BDF", line="789ABC", timestamp=NOW)
    (result,) = sia_dc09.SiaDc09Decoder(clock=lambda: NOW).feed(raw)
    assert result.events and result.error is None
    gate = threading.Event()

    async def scenario() -> bytes | None:
        writer.serve_loop(asyncio.get_running_loop())
        hold = asyncio.ensure_future(writer.run(lambda db: gate.wait(10)))
        answer = asyncio.create_task(handler.handle(result, "tcp", "127.0.0.1:40000"))
        await _queued(ingestor.group, 1)  # type: ignore[arg-type]
        assert not answer.done()  # held writer: no ACK yet, and nothing stored yet
        assert committed(db_target, "SELECT count(*) FROM events") == 0
        gate.set()
        await hold
        reply = await answer
        assert committed(db_target, "SELECT count(*) FROM events") == 1  # ACK after commit
        return reply

    try:
        reply = asyncio.run(scenario())
    finally:
        writer.close()
    assert reply is not None and b'"ACK"' in reply
    assert recorder.receipts("school-01")  # the stored receipt went out after the commit
