"""Ingest on 1, 2 and 4 PostgreSQL workers and on one SQLite central, in one run.

100 devices (each its own broker account, each at a venue of its own) publish QoS 1 fire
alarms as fast as they can from two processes. Figure: events stored per second, timed
from the go signal to the last ``stored`` receipt (sent only after the commit), seen by a
probe subscribed to the receipts, for

* ``alarmlink central serve`` on SQLite (the single-node path);
* N = 1, 2, 4 ``alarmlink central ingest-worker`` processes on one PostgreSQL (fsync on),
  sharing the device topics through an MQTT 5 shared subscription.

Baseline, in the same run: a bare paho subscriber that only counts the same traffic.
Each configuration gets a fresh broker and database; the table shows the median of
``--runs`` and the ratios to one worker, to SQLite and to the baseline, with the core
count of the machine.

    .venv/bin/python bench/scale.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import tomli_w
from _pg import PgCluster
from _rig import ROOT, Rig, median
from ingest import measure

from alarmlink.broker import BrokerUser

WORKER_COUNTS = (1, 2, 4)


def registry_text(devices: list[str]) -> str:
    """The demo registry plus one venue per device (ingest locks per venue)."""
    text = (ROOT / "central" / "demo_registry.toml").read_text()
    for dev in devices:
        text += (f'\n[[venues]]\nid = "v-{dev}"\nname = "Bench venue {dev}"\n'
                 f'kind = "village"\nstation = "dading"\n'
                 f'\n[[devices]]\nid = "{dev}"\nvenue = "v-{dev}"\nzones = ["z1"]\n')
    return text


def prepare(url: str, devices: list[str], work: Path) -> None:
    from sqlite_utils import Database

    from central.db.pg_store import PgDatabase
    from central.registry import load_registry

    reg = work / "scale-registry.toml"
    reg.write_text(registry_text(devices), encoding="utf-8")
    db = PgDatabase.connect(url)
    try:
        load_registry(cast(Database, db), reg)
    finally:
        db.close()


def start_workers(rig: Rig, url: str, count: int) -> list[subprocess.Popen[str]]:
    users = [BrokerUser(f"ingest-{n}", f"pw-ingest-{n}", "central") for n in range(count)]
    rig.broker.add_users(users)
    time.sleep(0.5)  # the broker reloads its password file on SIGHUP (no ack to wait for)
    procs = []
    for user in users:
        conf: dict[str, Any] = {
            "database_url": url, "share_group": "ingest",
            "snapshot_dir": str(rig.work / "snapshots"),
            "broker": {"url": rig.broker.central_url, "username": user.username,
                       "password": user.password}}
        path = rig.work / f"{user.username}.toml"
        path.write_text(tomli_w.dumps(conf))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "alarmlink_tools.cli", "central", "ingest-worker",
             "--config", str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True))
    for proc in procs:
        line = proc.stdout.readline() if proc.stdout else ""
        if "ready" not in line:
            raise SystemExit(f"an ingest worker did not start: {line.strip() or 'no output'}")
    return procs


def stop_workers(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def one_run(pg: PgCluster, devices: int, per_device: int) -> dict[str, float]:
    names = [f"dev-{i:04d}" for i in range(devices)]
    figures: dict[str, float] = {}
    rig = Rig(names)
    try:
        figures["baseline"] = measure(rig, "event", devices, per_device)
        rig.start_central()
        figures["sqlite"] = measure(rig, "receipt", devices, per_device)
    finally:
        rig.close()
    for count in WORKER_COUNTS:
        rig = Rig(names)
        try:
            url = pg.new_database()
            prepare(url, names, rig.work)
            procs = start_workers(rig, url, count)
            try:
                figures[f"pg{count}"] = measure(rig, "receipt", devices, per_device)
            finally:
                stop_workers(procs)
        finally:
            rig.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    per_device = args.events // args.devices
    pg = PgCluster()
    runs: list[dict[str, float]] = []
    try:
        for run in range(args.runs):
            runs.append(one_run(pg, args.devices, per_device))
            print(f"run {run + 1}: " + ", ".join(f"{k} {v:,.0f}/s" for k, v in runs[-1].items()),
                  flush=True)
    finally:
        pg.close()
    med = {key: median([r[key] for r in runs]) for key in runs[0]}
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0))
    print(f"\nIngest, {args.devices * per_device:,} QoS 1 events from {args.devices} devices, "
          f"median of {args.runs} runs; {cores} cores ({usable} usable); broker, publishers, "
          "PostgreSQL and workers on this one machine")
    print(f"{'configuration':<28}{'events/s':>10}{'vs 1 PG worker':>16}{'vs SQLite':>11}"
          f"{'vs baseline':>13}")
    rows = [("SQLite, central serve", "sqlite")] + [
        (f"PostgreSQL, {n} worker{'s' if n > 1 else ''}", f"pg{n}") for n in WORKER_COUNTS]
    for label, key in rows:
        print(f"{label:<28}{med[key]:>10,.0f}{med[key] / med['pg1']:>15.2f}x"
              f"{med[key] / med['sqlite']:>10.2f}x{med[key] / med['baseline']:>12.2f}x")
    print(f"{'baseline: bare subscriber':<28}{med['baseline']:>10,.0f}")
    print("command: .venv/bin/python bench/scale.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
