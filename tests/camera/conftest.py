"""Fixtures for the camera tests: real Mosquitto, real `alarmlink central serve`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite runs with --import-mode=importlib: make this directory's helper importable.
if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))

from e2e.harness import CentralProcess  # noqa: E402
from helpers import CENTRAL_USER  # noqa: E402

from alarmlink.broker import MosquittoBroker  # noqa: E402


@pytest.fixture
def central(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[CentralProcess]:
    """Central as a real child process on the test broker, with the demo registry."""
    proc = CentralProcess(tmp_path / "central", mosquitto, CENTRAL_USER)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
