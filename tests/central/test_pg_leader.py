"""Issue 16, line 3's mechanism: leader election between central nodes (central/leader.py).

Two :class:`Leadership` campaigns on one PostgreSQL database: exactly one leads. When the
leader's lock connection dies (its backend terminated, as when PostgreSQL or the network
drops it), it learns at its next check, stops its work, and the other node takes over.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from central_testkit import DEMO_REGISTRY
from helpers import wait_for

from central.config import CentralConfig
from central.leader import Leadership, SingleNode


class Campaign:
    def __init__(self, url: str, node: str) -> None:
        self.leadership = Leadership(url, node, retry_s=0.1)
        self.changes: list[bool] = []
        self.lock = threading.Lock()
        self.leadership.start(self.changed)

    def changed(self, leader: bool) -> None:
        with self.lock:
            self.changes.append(leader)


@pytest.mark.postgres
def test_one_leader_and_a_lost_lock_connection_hands_over(pg_url: str) -> None:
    import psycopg

    a, b = Campaign(pg_url, "a"), Campaign(pg_url, "b")
    try:
        wait_for(lambda: a.leadership.is_leader() or b.leadership.is_leader(), what="a leader")
        leader, other = (a, b) if a.leadership.is_leader() else (b, a)
        assert other.leadership.role == "follower" and other.changes == []
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                "application_name = 'alarmlink-leader' AND pid IN (SELECT pid FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted)").fetchone()
        assert killed == (1,)
        wait_for(lambda: other.leadership.is_leader(), timeout=10, what="the other takes over")
        wait_for(lambda: leader.changes == [True, False], what="the old leader stepping down")
        assert not leader.leadership.is_leader() and other.changes == [True]
    finally:
        a.leadership.stop()
        b.leadership.stop()


def test_a_single_sqlite_central_always_leads() -> None:
    node = SingleNode()
    seen: list[bool] = []
    node.start(seen.append)
    assert node.is_leader() and node.role == "single" and seen == [True]


@pytest.mark.parametrize("url, why", [
    ("sqlite:///x.db", "must be a postgresql:// URL"),
    ("postgresql://alarmlink:secret@db/alarmlink", "put no password in the URL"),
])
def test_database_url_is_checked(url: str, why: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=why):
        CentralConfig.model_validate({"database_url": url})


def test_serve_with_an_unreachable_database_says_so_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "central.toml"
    config.write_text('database_url = "postgresql://alarmlink@127.0.0.1:1/alarmlink"\n')
    done = subprocess.run([sys.executable, "-m", "alarmlink_tools.cli", "central", "serve",
                           "--config", str(config)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.startswith("alarmlink central: cannot connect to PostgreSQL at "
                                  "postgresql://alarmlink@127.0.0.1:1/alarmlink")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.postgres
def test_the_incident_listener_reconnects_after_each_loss_and_says_so(
        pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Its connections terminated twice: a warning each time, back each time, and an
    incident another writer stores afterwards still reaches this node's consoles."""
    import psycopg
    from central_testkit import TOPICS, Recorder, event_message, make_event

    from central.db.pg_store import PgDatabase
    from central.ingest import Ingestor
    from central.live_fanout import IncidentListener
    from central.registry import load_registry
    from central.snapshots import SnapshotFiles

    db = PgDatabase.connect(pg_url)
    load_registry(db, DEMO_REGISTRY)  # type: ignore[arg-type]
    pushed: list[dict[str, object]] = []
    listener = IncidentListener(pg_url, "this-node", pushed.append, retry_s=0.1)
    listener.start()

    def lost() -> int:
        return sum("incident listener lost PostgreSQL" in r.getMessage()
                   for r in caplog.records)

    def listeners() -> int:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                                "application_name LIKE 'alarmlink-listener%'").fetchone()
        return int(row[0]) if row else 0

    try:
        for loss in (1, 2):
            wait_for(lambda: listener.wait_listening(0.1) and listeners() == 2,
                     what="the listener's two sessions")
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                              "application_name LIKE 'alarmlink-listener%'")
            wait_for(lambda loss=loss: lost() == loss, what=f"warning for loss {loss}")
        wait_for(lambda: listener.wait_listening(0.1) and listeners() == 2,
                 what="the listener back")
        ingestor = Ingestor(db, TOPICS, Recorder(),  # type: ignore[arg-type]
                            snapshot_files=SnapshotFiles(tmp_path / "snapshots"))
        ingestor.handle(*event_message(make_event("school-01")))
        wait_for(lambda: [i["venue_id"] for i in pushed] == ["school-01"],
                 what="the other writer's incident pushed")
    finally:
        listener.stop()
        db.close()
