"""Fixtures for the edge agent's tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite runs with --import-mode=importlib: make this directory's helper importable.
# Appended, not prepended: a directory at the front of sys.path would shadow the shared
# tests/conftest.py for every `from conftest import ...` in the suite.
if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))

from agent_testkit import CentralClient  # noqa: E402

from alarmlink.broker import MosquittoBroker  # noqa: E402


@pytest.fixture
def central(mosquitto: MosquittoBroker) -> Iterator[CentralClient]:
    """A recording stand-in for central that answers every event with 'stored'."""
    client = CentralClient(mosquitto, auto_store=True)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def observer(mosquitto: MosquittoBroker) -> Iterator[CentralClient]:
    """A recording central-side client that never answers (events stay unconfirmed)."""
    client = CentralClient(mosquitto, auto_store=False)
    try:
        yield client
    finally:
        client.close()
