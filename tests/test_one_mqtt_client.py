"""Every paho client comes from alarmlink.mqtt: no module builds its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FACTORY = "alarmlink/mqtt/factory.py"
#: The one exception: this benchmark's baseline is a process that imports only paho, so
#: its RSS is a bare client's (the factory's imports would add pydantic and the config).
BARE_BASELINE = "bench/agent_idle.py"


def files_containing(text: str) -> list[str]:
    """Tracked files (code, bench, tests, docs) whose text contains ``text``."""
    found = subprocess.run(["git", "grep", "-l", "-F", text], cwd=ROOT, capture_output=True,
                           text=True, check=False)
    assert found.returncode in (0, 1), found.stderr  # 1: no match
    return sorted(found.stdout.split())


def test_only_the_factory_constructs_a_paho_client() -> None:
    constructor = "mqtt" + ".Client("  # split, so this file does not match itself
    assert files_containing(constructor) == sorted([FACTORY, BARE_BASELINE])


def test_only_the_factory_picks_paho_callback_api() -> None:
    """Catches a client built under another name (``from paho... import Client``)."""
    assert files_containing("Callback" + "APIVersion") == sorted([FACTORY, BARE_BASELINE])
