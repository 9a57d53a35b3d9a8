"""Fixtures of the serial panel tests: reader links, panel simulators and agents, all
stopped at teardown."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite runs with --import-mode=importlib: make this directory's helper importable
# (appended, so it never shadows the shared tests/conftest.py).
if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))

from serial_testkit import Made  # noqa: E402


@pytest.fixture
def made() -> Iterator[Made]:
    """Collects agents, links and simulators; stops them all (simulators last)."""
    things = Made()
    try:
        yield things
    finally:
        things.close()
