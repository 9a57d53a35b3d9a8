"""The real central on a real full disk: /healthz says so within seconds, and recovers.

Central's database lives on a small tmpfs of the test's own; the test fills the rest of
it with a file. Needs ``mount`` (root; the test skips with the reason otherwise).
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.central import CentralProcess
from helpers import CENTRAL_USER, wait_for

from alarmlink.broker import MosquittoBroker

pytestmark = pytest.mark.broker

TMPFS_SIZE = "48m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs",
                             str(mount_point)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(path: Path) -> None:
    """Write zeros to ``path`` until the file system refuses."""
    block = b"\0" * (1024 * 1024)
    with open(path, "wb", buffering=0) as filler:
        while True:
            try:
                filler.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    # the last partial block: fill to the last byte
    with open(path, "ab", buffering=0) as filler:
        for size in (65536, 4096, 512, 1):
            while True:
                try:
                    filler.write(b"\0" * size)
                except OSError:
                    break


@pytest.fixture
def central_on_small_disk(small_disk: Path, fresh_mosquitto: MosquittoBroker,
                          tmp_path: Path) -> Iterator[CentralProcess]:
    central = CentralProcess(tmp_path / "central", fresh_mosquitto, CENTRAL_USER)
    central.db_path = small_disk / "central.db"
    config = central.config_path.read_text()
    central.config_path.write_text(f'db = "{central.db_path}"\n{config}'
                                   f'[health]\nfailure_hold_s = 2\nprobe_interval_s = 1\n')
    try:
        central.start()
        yield central
    finally:
        central.stop()


def test_full_disk_makes_central_unhealthy_then_healthy(central_on_small_disk: CentralProcess,
                                                         small_disk: Path) -> None:
    url = central_on_small_disk.url + "/healthz"
    assert httpx.get(url, timeout=5).status_code == 200
    filler = small_disk / "filler"
    _fill(filler)
    response = wait_for(lambda: (r := httpx.get(url, timeout=5)).status_code == 503 and r,
                        timeout=15, what="503 with the database's disk full")
    body = response.json()
    database = [p for p in body["problems"] if p.startswith("database:")]
    assert database, body
    assert str(small_disk) in database[0] and "free space on" in database[0]
    assert body["free_mb"] < 1
    os.unlink(filler)
    wait_for(lambda: httpx.get(url, timeout=5).status_code == 200, timeout=30,
             what="200 once the filler is gone")
