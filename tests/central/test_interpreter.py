"""central.interpreter: the settings `central serve` and its MQTT process start with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
import central.api, central.service  # what `central serve` has imported when it tunes
from central.interpreter import tune_for_latency
before = len(gc.get_objects())
tune_for_latency()
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(),
                  "walked": len(gc.get_objects()), "interval": sys.getswitchinterval()}))
"""


def test_the_start_up_heap_is_frozen_so_a_full_collection_walks_little() -> None:
    """In a process of its own (freezing the test process's heap would keep its garbage)."""
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    seen = json.loads(out.splitlines()[-1])
    assert seen["interval"] == 0.001
    assert seen["frozen"] >= seen["before"] * 0.9, "the start-up objects are frozen"
    assert seen["walked"] < seen["frozen"] / 20, "a full collection walks only what is new"
