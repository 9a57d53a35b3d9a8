"""How central's processes set up the Python interpreter for short alarm latency.

Both ``central serve`` and its MQTT process (:mod:`central.mqtt_reader`) call
:func:`tune_for_latency` once everything is imported and built, just before serving:

* **a 1 ms switch interval** (CPython's default is 5 ms): a thread woken by an alarm (the
  reading thread, the hand-over, the writer) waits at most about this long for the
  interpreter lock while another thread (a heartbeat batch) holds it. Measured with
  bench/latency.py: the press -> console p99 fell, throughput did not.
* **the start-up heap frozen** (:func:`gc.freeze`): the modules, classes, functions and
  models built at start-up (about 110,000 objects in ``central serve``) never become
  garbage, yet every full collection walked them all and stopped every thread while it
  did: 60-80 ms, about six times a minute with 10,000 devices heartbeating. Frozen, a full
  collection walks only what was made since (11-13 ms in the same bench).
"""

from __future__ import annotations

import gc
import sys

#: The interpreter's switch interval in central's processes (seconds).
SWITCH_INTERVAL_S = 0.001


def tune_for_latency() -> None:
    """Set the switch interval, collect once, and freeze what is left (the start-up heap)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
