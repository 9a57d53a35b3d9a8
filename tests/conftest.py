"""Fixtures shared by every test tier: a real Mosquitto on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import CENTRAL_USER, TEST_DEVICES, device_user

from alarmlink.broker import MosquittoBroker, mosquitto_binary

if TYPE_CHECKING:
    from e2e.harness import CentralProcess


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A running, authenticated Mosquitto with central and the TEST_DEVICES accounts."""
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed; run the suite through `make test`")
    broker = MosquittoBroker([CENTRAL_USER, *map(device_user, TEST_DEVICES)],
                             workdir=tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def central(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[CentralProcess]:
    """Central as a real `alarmlink central serve` child process on the test broker,
    with the demo registry and its own SQLite file."""
    from e2e.harness import CentralProcess as Process  # imports the agent and central

    proc = Process(tmp_path / "central", mosquitto, CENTRAL_USER)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
