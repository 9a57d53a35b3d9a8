"""Issue 16, slice 2: ingest workers on PostgreSQL sharing the device topics.

Two ``alarmlink central ingest-worker`` processes (each its own broker account) take the
devices' events through an MQTT 5 shared subscription and store them in one PostgreSQL
database. One is killed with SIGKILL during a burst; the devices resend every event until
its ``stored`` receipt arrives (as the agent's outbox does), and storage ignores a repeated
``event_id``: every event is stored exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from central_testkit import DEMO_REGISTRY
from fixtures.broker import running_mosquitto
from helpers import device_user, wait_for
from resending_device import Device
from sqlite_utils import Database

from alarmlink.broker import BrokerUser, MosquittoBroker
from central.db.pg_store import PgDatabase
from central.registry import load_registry

pytestmark = [pytest.mark.broker, pytest.mark.postgres]

DEVICES = [f"wk-{n:02d}" for n in range(50)]
PER_DEVICE = 20  # 1,000 events: 5,000 (100 each) also passes, in ~31 s instead of ~9 s
WORKERS = [BrokerUser(f"ingest-{n}", f"ingest-{n}-test-pw", "central") for n in (1, 2)]


def registry_text() -> str:
    text = DEMO_REGISTRY.read_text(encoding="utf-8")
    for dev in DEVICES:
        text += f'\n[[devices]]\nid = "{dev}"\nvenue = "village-01"\nzones = ["z1"]\n'
    return text


def start_worker(tmp_path: Path, broker: MosquittoBroker, pg_url: str,
                 user: BrokerUser) -> subprocess.Popen[str]:
    config = tmp_path / f"{user.username}.toml"
    config.write_text(
        f'database_url = "{pg_url}"\nshare_group = "ingest"\n'
        f'snapshot_dir = "{tmp_path / "snapshots"}"\n\n[broker]\nurl = "{broker.url}"\n'
        f'username = "{user.username}"\npassword = "{user.password}"\n', encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "alarmlink_tools.cli", "central", "ingest-worker",
         "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    with running_mosquitto([*WORKERS, *(device_user(d) for d in DEVICES)]) as running:
        yield running


def stored_events(pg_url: str) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


def test_killing_a_worker_mid_burst_loses_and_duplicates_nothing(
        tmp_path: Path, broker: MosquittoBroker, pg_url: str) -> None:
    db = PgDatabase.connect(pg_url)
    load_registry(cast(Database, db), _write(tmp_path / "registry.toml", registry_text()))
    db.close()
    workers = [start_worker(tmp_path, broker, pg_url, user) for user in WORKERS]
    devices: list[Device] = []
    try:
        for proc in workers:
            line = proc.stdout.readline() if proc.stdout else ""
            assert "ready" in line, line
        devices = [Device(broker, d) for d in DEVICES]
        sent: set[str] = set()
        victim = workers[0]
        for seq in range(PER_DEVICE):
            for device in devices:
                sent.add(device.send(seq))
            if seq == PER_DEVICE // 4:  # mid-burst: some events in flight at the victim
                wait_for(lambda: stored_events(pg_url)[0] > 0, timeout=30)
                os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)

        def all_stored() -> bool:
            for device in devices:
                device.resend_due()
            return all(not d.outbox for d in devices)

        wait_for(all_stored, timeout=120, interval=0.2)
        total, distinct = stored_events(pg_url)
        why = (f"{total} rows, {distinct} event ids, {len(sent)} sent; resends "
               f"{sum(d.resent for d in devices)}, repeats stored {redeliveries(pg_url)}")
        assert (total, distinct) == (len(sent), len(sent)) == (len(DEVICES) * PER_DEVICE,) * 2, why
        assert workers[1].poll() is None  # the survivor carried on
    finally:
        for device in devices:
            device.close()
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)


def redeliveries(pg_url: str) -> int:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT sum(deliveries - 1) FROM events").fetchone()
        return int(row[0]) if row and row[0] is not None else 0


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_worker_that_loses_its_database_exits_unacknowledged_and_the_event_survives(
        tmp_path: Path, broker: MosquittoBroker, pg_url: str) -> None:
    import psycopg

    db = PgDatabase.connect(pg_url)
    load_registry(cast(Database, db), _write(tmp_path / "registry.toml", registry_text()))
    db.close()
    worker = start_worker(tmp_path, broker, pg_url, WORKERS[0])
    device: Device | None = None
    try:
        assert worker.stdout is not None and "ready" in worker.stdout.readline()
        with psycopg.connect(pg_url, autocommit=True) as admin:  # the database "fails"
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "datname = current_database() AND pid <> pg_backend_pid()")
        device = Device(broker, DEVICES[0])
        device.send(1)
        assert worker.wait(30) == 3
        output = worker.stdout.read()
        assert "lost its PostgreSQL connection" in output and "Traceback" not in output
        assert stored_events(pg_url) == (0, 0) and device.outbox, "not stored, not receipted"
        worker = start_worker(tmp_path, broker, pg_url, WORKERS[1])  # restarted
        assert worker.stdout is not None and "ready" in worker.stdout.readline()

        def stored() -> bool:
            assert device is not None
            device.resend_due()
            return not device.outbox

        wait_for(stored, timeout=30, interval=0.2)
        assert stored_events(pg_url) == (1, 1)
    finally:
        if device is not None:
            device.close()
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(15)
