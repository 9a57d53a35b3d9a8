"""Device A floods central with 40,000 messages; how long device B's fire alarms take.

Each run: a private Mosquitto and a real ``alarmlink central serve`` (default
``[limits]``; with the ``telemetry_broker`` second connection unless ``--no-telemetry``).
Device B publishes a fire alarm (QoS 1) every ``--every`` seconds and times each from
its publish to central's ``stored`` receipt (sent only after the commit). Baseline,
same run: B's alarms with no flood. Then device A (its own account and registry entry,
in another process) publishes ``--messages`` messages as fast as it can, and B keeps
alarming until A is done and central has caught up. Flood kinds:

``garbage``    malformed JSON on A's event topic (each a dead letter; the budget stores
               a few, counts the rest);
``heartbeat``  valid heartbeats (non-alarm budget: the excess is acknowledged, dropped);
``alarm``      valid fire alarms, distinct ids (never dropped; round-robin keeps B's
               alarm from waiting behind them in central, not in the broker's queue).

A flood on A's event topic shares the events' connection with B's alarm: the broker
queues messages for central in arrival order, so B's alarm waits behind whatever of the
flood central has not yet read. A heartbeat flood goes over the telemetry connection.

Figure: p50/p99/max of B's alarms during the flood, medians of ``--runs``; also A's
troubles and the database growth.

    .venv/bin/python bench/flood.py --runs 3 --kind garbage
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sqlite3
import sys
import threading
import time
from typing import Any

from _rig import (
    Rig,
    event_bytes,
    load_note,
    median,
    pct,
    plain_client,
    print_footer,
    wait_until,
)

from alarmlink import wire

A, B = "flood-a", "dev-b"
TOPICS = wire.Topics()


def flood_worker(url: str, password: str, kind: str, count: int, go: Any) -> None:
    client = plain_client(url, A, password)  # paho's default window of 20 in flight
    if kind == "heartbeat":
        beat = wire.encode(wire.Heartbeat(ts=wire.utcnow(), uptime_s=1.0, outbox_depth=0))
        messages = [(TOPICS.heartbeat(A), beat, 0)] * count
    elif kind == "garbage":
        messages = [(TOPICS.event(A), b'{"v": 1, "event_id": ' + str(i).encode(), 1)
                    for i in range(count)]
    else:
        messages = [(TOPICS.event(A), event_bytes(A, i + 1), 1) for i in range(count)]
    go.wait(60)
    infos = [client.publish(topic, payload, qos=qos) for topic, payload, qos in messages]
    deadline = time.monotonic() + 300
    for info in infos:
        if info.mid and not info.is_published():
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
    client.disconnect()
    client.loop_stop()


class Alarmer:
    """Device B: publishes fire alarms and times each to its ``stored`` receipt."""

    def __init__(self, rig: Rig) -> None:
        self.client = rig.client(B)
        self.sent: dict[str, float] = {}
        self.latency: dict[str, float] = {}
        self.lock = threading.Lock()
        self.seq = 0
        granted = threading.Event()
        self.client.on_subscribe = lambda *_a: granted.set()
        self.client.on_message = self.on_receipt
        self.client.subscribe(TOPICS.receipt(B), qos=1)
        if not granted.wait(10):
            raise SystemExit("B's receipt subscription was not granted")

    def on_receipt(self, _c: Any, _u: Any, message: Any) -> None:
        receipt = wire.decode(wire.Receipt, bytes(message.payload))
        with self.lock:
            sent = self.sent.get(receipt.event_id)
            if sent is not None and receipt.event_id not in self.latency:
                self.latency[receipt.event_id] = time.perf_counter() - sent

    def alarm(self) -> str:
        self.seq += 1
        event = wire.Event(event_id=wire.new_id(), device_id=B, seq=self.seq,
                           ts=wire.utcnow(), kind=wire.Kind.FIRE, state=wire.State.ALARM,
                           zone="z1", source=wire.Source.GPIO)
        with self.lock:
            self.sent[event.event_id] = time.perf_counter()
        self.client.publish(TOPICS.event(B), wire.encode(event), qos=1)
        return event.event_id

    def series(self, ids: list[str], timeout: float = 120) -> list[float]:
        def all_in() -> bool:
            with self.lock:
                return all(i in self.latency for i in ids)
        wait_until(all_in, timeout, f"B's {len(ids)} alarms to be stored", every=0.05)
        with self.lock:
            return [self.latency[i] * 1000 for i in ids]


def one_run(kind: str, messages: int, every: float, telemetry: bool
            ) -> tuple[list[float], list[float], str]:
    rig = Rig([A, B])
    try:
        rig.start_central(rig.telemetry_conf() if telemetry else None)
        db = rig.work / "central" / "central.db"
        size0 = db.stat().st_size
        b = Alarmer(rig)
        quiet = []
        for _ in range(10):
            quiet.append(b.alarm())
            time.sleep(every)
        baseline = b.series(quiet)
        ctx = mp.get_context("fork")
        go = ctx.Event()
        proc = ctx.Process(target=flood_worker, args=(rig.url, rig.passwords[A], kind,
                                                      messages, go), daemon=True)
        proc.start()
        time.sleep(2.0)  # A connected and its messages built (outside the timed part)
        go.set()
        t0 = time.monotonic()
        during = []
        while proc.is_alive() and time.monotonic() - t0 < 300:
            during.append(b.alarm())
            time.sleep(every)
        flood_s = time.monotonic() - t0
        proc.join(5)
        for _ in range(4):  # what A left queued at the broker still competes
            during.append(b.alarm())
            time.sleep(every)
        latencies = b.series(during)
        b.client.disconnect()
        b.client.loop_stop()
        rows = rig_rows(db)
        note = (f"A published {messages:,} {kind} messages in {flood_s:.1f} s; "
                f"{rows['troubles']} flood trouble(s) at A's station; dead letters stored "
                f"{rows['dead']:,}; database {size0 / 2**20:.1f} -> "
                f"{db.stat().st_size / 2**20:.1f} MiB")
        return baseline, latencies, note
    finally:
        rig.close()


def rig_rows(db: Any) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
        troubles = conn.execute("SELECT count(*) FROM incidents WHERE category = 'trouble' "
                                "AND zones LIKE ?", [f"%flood:{A}%"]).fetchone()[0]
    finally:
        conn.close()
    return {"dead": int(dead), "troubles": int(troubles)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--kind", choices=("garbage", "heartbeat", "alarm"), default="garbage")
    parser.add_argument("--no-telemetry", dest="telemetry", action="store_false",
                        help="central without its telemetry connection (one socket for all)")
    parser.add_argument("--every", type=float, default=0.2,
                        help="seconds between two of B's alarms")
    args = parser.parse_args()
    p99s, p50s, maxes, base99 = [], [], [], []
    for run in range(args.runs):
        baseline, during, note = one_run(args.kind, args.messages, args.every, args.telemetry)
        p99s.append(pct(during, 99))
        p50s.append(pct(during, 50))
        maxes.append(max(during))
        base99.append(pct(baseline, 99))
        print(f"run {run + 1}: B's fire alarm -> stored during the flood: n={len(during)} "
              f"p50 {p50s[-1]:.0f} ms, p99 {p99s[-1]:.0f} ms, max {maxes[-1]:.0f} ms; "
              f"without a flood (same run) p99 {base99[-1]:.0f} ms. {note}; {load_note()}",
              flush=True)
    print(f"device A floods {args.messages:,} {args.kind} messages; device B's fire alarm "
          f"stored, median of {args.runs}: p50 {median(p50s):.0f} ms, p99 "
          f"{median(p99s):.0f} ms (max {median(maxes):.0f} ms); baseline without a flood, "
          f"same runs: p99 {median(base99):.0f} ms (goal p99 <= 1 s)")
    print_footer("flood.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
