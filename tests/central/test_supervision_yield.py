"""A supervision pass holds the writer, and an alarm waits for the writer: a pass must stop
for a waiting alarm in every part of its work, not only while it judges devices.

Measured with 10,000 devices (bench/latency.py): a pass read its 500 devices' rows in one
go (20-40 ms), and popped, sorted and pushed back every deadline of a fleet due at once
(10-30 ms), before it first looked at ``should_yield``; an alarm waited that long.
"""

from __future__ import annotations

from typing import Any

import both_backends
import pytest
from sqlite_utils import Database
from test_central_supervision import FAST, Rig
from test_reconnect_storm import _fleet

from central import supervision
from central.supervision import MAX_PER_PASS, MIN_BEFORE_YIELD, POPS_BEFORE_YIELD, VIEW_CHUNK

backend, db = both_backends.backend, both_backends.db


def _due(rig: Rig) -> int:
    """Live deadlines at or before now (stale heap entries left out)."""
    now, due = rig.clock(), rig.supervisor._due  # noqa: SLF001
    return sum(1 for at, device in rig.supervisor._heap  # noqa: SLF001
               if at <= now and due.get(device) == at)


def test_a_pass_that_stops_for_an_alarm_reads_only_the_devices_it_judged(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    devices = _fleet(db, 200, device_class="fast")
    rig = Rig(db)
    for device in devices:  # connected, then lost for real: every one must be judged
        rig.status(device, "online")
        rig.status(device, "offline")
    rig.tick()  # (the first pass: every deadline built)
    built: list[str] = []
    real = supervision.DeviceView.from_row

    def counting(row: Any) -> supervision.DeviceView:
        built.append(row["device_id"])
        return real(row)

    monkeypatch.setattr(supervision.DeviceView, "from_row", staticmethod(counting))
    rig.supervisor.should_yield = lambda: True  # an alarm waits from the start
    rig.clock.advance(0.5)
    rig.tick()
    assert len(rig.supervisor._deferred) >= 200 - MIN_BEFORE_YIELD  # noqa: SLF001
    # the first chunk's rows, and the judged devices' re-reads: not the 200 rows
    assert len(set(built)) <= VIEW_CHUNK, f"{len(set(built))} devices read for 8 judged"
    rig.supervisor.should_yield = None
    [trouble] = rig.run(FAST.grace_s + 1)
    zones = [z for z in rig.troubles()[0]["zones"] if z.startswith("device:bg-")]
    assert trouble["category"] == "trouble"
    assert sorted(zones) == [f"device:{d}" for d in devices], "a device was forgotten"


def test_deadlines_that_only_move_stop_for_an_alarm_and_move_in_the_next_pass(
        db: Database) -> None:
    n = POPS_BEFORE_YIELD * 3
    devices = _fleet(db, n, device_class="fast")
    rig = Rig(db)
    for device in devices:
        rig.status(device, "online")
    rig.clock.advance(3)  # (past the status changes: passes read only the deadlines)
    for _ in range(n // MAX_PER_PASS + 1):  # every device judged once: deadlines built
        rig.tick()
        rig.clock.advance(0.5)
    assert len(rig.supervisor._silence) == n  # noqa: SLF001  (the demo three never connected)
    rig.clock.advance(FAST.silence_s)  # their deadlines fall due ...
    for device in devices:  # ... as their heartbeats arrive: deadlines move, none judged
        rig.supervisor.heard(device, rig.clock())
    due_before = _due(rig)
    assert due_before >= n, "the deadlines did not fall due"
    rig.supervisor.should_yield = lambda: True
    rig.tick()
    left = _due(rig)
    assert left >= due_before - POPS_BEFORE_YIELD, "the pass did not stop for the alarm"
    rig.supervisor.should_yield = None
    rig.tick()
    assert _due(rig) == 0, "the next pass did not move the rest"
    assert rig.supervisor.examined == 0, "a device heard in time was judged"


def test_a_fleet_due_at_once_is_judged_a_pass_at_a_time_and_the_rest_stay_due(
        db: Database) -> None:
    """The first pass (or the 5-minute rescan) makes every device due; each pass takes
    MAX_PER_PASS of them and leaves the others due, untouched, for the next pass. (It
    popped them all, sorted them and pushed them back a second later, every pass.)"""
    n = MAX_PER_PASS * 2 + 10
    _fleet(db, n, device_class="fast")
    total = n + 3  # and the demo registry's three
    rig = Rig(db)
    rig.clock.advance(3)  # no recent status change: only the deadlines
    examined, left = [], []
    for _ in range(3):
        rig.tick()
        examined.append(rig.supervisor.examined)
        left.append(_due(rig))
        rig.clock.advance(0.5)
    assert examined == [MAX_PER_PASS, MAX_PER_PASS, total - 2 * MAX_PER_PASS]
    assert left == [total - MAX_PER_PASS, total - 2 * MAX_PER_PASS, 0]
