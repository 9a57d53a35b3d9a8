"""Supervision and the device list at 10,000 devices (issue 17, line 3).

In process, on a real SQLite file: 10,000 registered devices, all online and heartbeating
every 15 s (1/15 of them each simulated second, through the real Ingestor). Figure: the
supervision time per second (its passes' total over the run, divided by the simulated
seconds; deadlines come due in waves, so a mean, not a median). It runs on the writer
thread; the event loop only awaits it. And one page of the device board. Baseline, same run:
the full walk every pass used to do (now only at start, on reconnect and every 5 min),
and the whole board in one answer.

    .venv/bin/python bench/supervision.py --devices 10000 --runs 3
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _rig import median, registry_text

from alarmlink.wire import Heartbeat, Status, Topics, encode
from central.db import open_db
from central.ingest import Ingestor
from central.ingest_queue import Delivery
from central.registry import load_registry
from central.service import CentralService
from central.supervision import Supervisor
from central.supervision_config import SupervisionConfig


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def run(devices: int, seconds: int) -> tuple[float, float, float, float]:
    work = Path(tempfile.mkdtemp(prefix="alarmlink-bench-sup-"))
    try:
        db = open_db(work / "central.db")
        ids = [f"dev-{i:05d}" for i in range(devices)]
        (work / "reg.toml").write_text(registry_text(ids))
        load_registry(db, work / "reg.toml")
        clock = Clock()
        topics = Topics()
        ingest = Ingestor(db, topics, lambda _t, _p: None, clock=clock)
        sup = Supervisor(db, SupervisionConfig(), clock)
        sup.set_listening(True)
        ingest.on_heard = sup.heard  # as central/service.py wires them
        for k in range(0, devices, 500):
            ingest.handle_batch([Delivery(topics.status(d), encode(Status(
                state="online", ts=clock(), boot_id="b"))) for d in ids[k:k + 500]])
        clock.now += timedelta(seconds=3)
        sup.tick()  # the first pass walks everything and builds the deadlines
        passes: list[float] = []
        examined: list[int] = []
        for second in range(seconds):
            clock.now += timedelta(seconds=1)
            share = ids[second % 15::15]
            ingest.handle_batch([Delivery(topics.heartbeat(d), encode(Heartbeat(
                ts=clock(), uptime_s=1.0, outbox_depth=0))) for d in share])
            t0 = time.perf_counter()
            sup.tick()
            passes.append(time.perf_counter() - t0)
            examined.append(sup.examined)
        t0 = time.perf_counter()
        sup._rescan_at = None  # noqa: SLF001 - the old behaviour: walk the whole fleet
        sup.tick()
        sweep = time.perf_counter() - t0
        service = CentralService.__new__(CentralService)  # only _devices: no threads
        service.supervisor, service.clock = sup, clock
        t0 = time.perf_counter()
        page = service._devices(db, None, ids[devices // 2], 100)  # noqa: SLF001
        page_s = time.perf_counter() - t0
        assert len(page) == 100
        t0 = time.perf_counter()
        service._devices(db, None)  # noqa: SLF001
        whole_s = time.perf_counter() - t0
        db.close()
        print(f"  devices examined per pass: median {median(examined)}, max {max(examined)}; "
              f"slowest pass {max(passes) * 1000:.1f} ms")
        return sum(passes) / len(passes), sweep, page_s, whole_s
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for n in range(args.runs):
        results.append(run(args.devices, args.seconds))
        p, s, pg, w = results[-1]
        print(f"run {n + 1}: supervision {p * 1000:.2f} ms/s (full walk {s * 1000:.1f} ms); "
              f"page of 100 {pg * 1000:.1f} ms (whole board {w * 1000:.1f} ms)", flush=True)
    p, s, pg, w = (median([r[i] for r in results]) for i in range(4))
    print(f"{args.devices:,} devices, median of {args.runs}: supervision "
          f"{p * 1000:.2f} ms per second (baseline: one full walk {s * 1000:.1f} ms); "
          f"device list page of 100 {pg * 1000:.1f} ms (baseline whole list {w * 1000:.1f} ms)")
    print("command: .venv/bin/python bench/supervision.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
