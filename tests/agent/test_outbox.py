"""The durable outbox: committed before publish, seq never reused, rows kept until stored."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from alarmlink import wire
from edge_agent.outbox import Outbox


def make(tmp_path: Path, **kwargs: float) -> Outbox:
    return Outbox(tmp_path / "outbox-school-01.sqlite3", "school-01", **kwargs)


def add(outbox: Outbox, zone: str = "gate-button") -> wire.Event:
    return outbox.add(kind="panic", state="alarm", zone=zone, source="gpio")


def test_add_commits_a_valid_event_with_the_next_seq(tmp_path: Path) -> None:
    with make(tmp_path) as outbox:
        first, second = add(outbox), add(outbox, "office")
        assert (first.seq, second.seq) == (1, 2)
        assert first.event_id != second.event_id
        assert outbox.depth() == 2
    # Committed: visible to an independent connection (another process after a crash).
    db = sqlite3.connect(tmp_path / "outbox-school-01.sqlite3")
    payloads = [row[0] for row in db.execute("SELECT payload FROM events ORDER BY seq")]
    db.close()
    assert [wire.decode(wire.Event, p) for p in payloads] == [first, second]


def test_durability_pragmas(tmp_path: Path) -> None:
    with make(tmp_path) as outbox:
        assert outbox._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_seq_continues_after_reopen_and_is_never_reused(tmp_path: Path) -> None:
    with make(tmp_path) as outbox:
        events = [add(outbox) for _ in range(3)]
        for event in events:
            assert outbox.confirm(event.event_id)
        assert outbox.depth() == 0
    with make(tmp_path) as outbox:  # a reboot, with every row already deleted
        assert add(outbox).seq == 4
        assert outbox.next_seq == 5


def test_unconfirmed_rows_survive_reopen_with_the_same_bytes(tmp_path: Path) -> None:
    with make(tmp_path) as outbox:
        event = add(outbox)
        due_before = outbox.due(now=0.0)
    with make(tmp_path) as outbox:
        assert outbox.pending() == [event]
        assert outbox.due(now=0.0) == due_before
        assert due_before[0].payload == wire.encode(event)


def test_only_the_confirmed_event_is_removed(tmp_path: Path) -> None:
    with make(tmp_path) as outbox:
        keep, gone = add(outbox), add(outbox)
        assert outbox.confirm(gone.event_id)
        assert not outbox.confirm(gone.event_id)  # a duplicate receipt is harmless
        assert not outbox.confirm(wire.new_id())
        assert [e.event_id for e in outbox.pending()] == [keep.event_id]
        assert outbox.contains(keep.event_id) and not outbox.contains(gone.event_id)


def test_resend_timing_backs_off_and_reconnect_makes_everything_due(tmp_path: Path) -> None:
    with make(tmp_path, resend_timeout_s=10, resend_max_s=30) as outbox:
        event = add(outbox)
        assert [p.event_id for p in outbox.due(100.0)] == [event.event_id]  # never sent
        outbox.mark_sent(event.event_id, 100.0)
        assert outbox.due(109.9) == []
        resend = outbox.due(110.0)
        assert [(p.event_id, p.seq, p.attempts) for p in resend] == [(event.event_id, 1, 1)]
        outbox.mark_sent(event.event_id, 110.0)
        assert outbox.due(129.9) == []  # second resend after 20 s
        assert outbox.due(130.0) != []
        assert [outbox.resend_interval(n) for n in (1, 2, 3, 4, 50)] == [10, 20, 30, 30, 30]
        outbox.mark_sent(event.event_id, 130.0)
        assert outbox.due(131.0) == []
        assert outbox.mark_all_unsent() == 1
        assert [p.payload for p in outbox.due(131.0)] == [wire.encode(event)]


def test_due_is_in_seq_order_and_limited(tmp_path: Path) -> None:
    with make(tmp_path) as outbox:
        events = [add(outbox) for _ in range(5)]
        assert [p.seq for p in outbox.due(0.0, limit=3)] == [e.seq for e in events[:3]]


def test_an_invalid_event_is_not_stored_and_uses_no_seq(tmp_path: Path) -> None:
    with make(tmp_path) as outbox:
        with pytest.raises(ValidationError):
            outbox.add(kind="panic", state="alarm", zone="", source="gpio")
        with pytest.raises(ValueError):
            outbox.add(kind="earthquake", state="alarm", zone="x", source="gpio")
        assert outbox.depth() == 0
        assert add(outbox).seq == 1


def test_concurrent_adds_get_unique_contiguous_seqs(tmp_path: Path) -> None:
    with make(tmp_path) as outbox:
        seqs: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            for _ in range(25):
                seq = add(outbox).seq
                with lock:
                    seqs.append(seq)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(seqs) == list(range(1, 101))
        assert outbox.depth() == 100


def test_two_devices_never_share_a_file(tmp_path: Path) -> None:
    from agent_testkit import make_config

    a = make_config(tmp_path, device_id="dev-a")
    b = make_config(tmp_path, device_id="dev-b")
    assert a.state_dir == b.state_dir and a.outbox_path != b.outbox_path
