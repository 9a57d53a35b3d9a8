"""Central's CPU with a fleet heartbeating, against a bare subscriber of the same traffic.

Each run: a private Mosquitto (the generated config), a real ``alarmlink central serve``
(with its ``telemetry_broker`` second connection, as a station would run it), and
``--devices`` simulated devices (``simulators/fleet.py``: real MQTT connections, each its
own account, retained status, heartbeats at QoS 0 every ``--heartbeat`` s in the agent's
jittered rhythm) from ``--processes`` processes; central's supervision has a device class
for that heartbeat (silence after 2.5 heartbeats), as a station running such a fleet
would. Once every device is online and the connect storm has settled (``--settle`` s),
central's CPU and a bare paho subscriber's CPU (another process, subscribed to every
device's heartbeat, status and event: the same traffic central receives, only counted)
are read from ``/proc`` over the same ``--window`` seconds. Figure: central's share of a
core against the bare subscriber's, and central's RSS; medians of ``--runs``.

    .venv/bin/python bench/fleet.py --devices 10000 --runs 3
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from typing import Any

from _rig import (
    PROBE,
    Rig,
    cpu_seconds,
    load_note,
    median,
    plain_client,
    print_footer,
    rss_mib,
    wait_until,
)

from alarmlink import wire
from simulators.fleet import Fleet, FleetPlan


def bare_subscriber(url: str, password: str, counted: Any) -> None:
    """A paho client that subscribes to what central receives and only counts."""
    client = plain_client(url, PROBE, password)
    topics = wire.Topics()

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        counted.value += 1

    client.on_message = on_message
    for channel in ("heartbeat", "status", "event"):
        client.subscribe(topics.all_devices(channel), qos=1)
    while True:
        time.sleep(3600)


def one_run(devices: int, heartbeat: float, processes: int, settle: float,
            window: float) -> tuple[float, float, float, float]:
    """(central % of a core, bare %, central RSS MiB, messages/s in the window)."""
    names = [f"fl-{i:05d}" for i in range(devices)]
    rig = Rig(names)
    fleet: Fleet | None = None
    bare: Any = None
    try:
        # central supervises them as devices of this heartbeat (the builtin "standard"
        # class expects one every 15 s: 30 s heartbeats would all count as silent)
        silence = round(2.5 * heartbeat)
        supervision = {"default_class": "fleet", "classes": {"fleet": {
            "heartbeat_s": heartbeat, "silence_s": silence, "grace_s": 15,
            "bound_s": silence + 20}}}
        rig.start_central({**rig.telemetry_conf(), "supervision": supervision}, timeout=180)
        assert rig.central is not None
        ctx = mp.get_context("spawn")
        counted = ctx.Value("q", 0, lock=False)
        bare = ctx.Process(target=bare_subscriber, daemon=True,
                           args=(rig.url, rig.passwords[PROBE], counted))
        bare.start()
        fleet = Fleet(FleetPlan(url=rig.url, heartbeat_s=heartbeat, mode="agent"),
                      [(d, rig.passwords[d]) for d in names], processes)
        fleet.start()
        f = fleet
        took = wait_until(lambda: f.poll(0.5) or f.online >= devices, 600,
                          f"{devices} devices connected", every=0.5)
        print(f"  {devices:,} devices connected in {took:.0f} s; settling {settle:g} s",
              flush=True)
        end_settle = time.monotonic() + settle
        while time.monotonic() < end_settle:
            fleet.poll(1.0)
        c0, b0, n0, t0 = cpu_seconds(rig.central.pid), cpu_seconds(bare.pid), \
            counted.value, time.monotonic()
        end = t0 + window
        while time.monotonic() < end:
            fleet.poll(1.0)
        c1, b1, n1, t1 = cpu_seconds(rig.central.pid), cpu_seconds(bare.pid), \
            counted.value, time.monotonic()
        wall = t1 - t0
        if fleet.online < devices:
            print(f"  warning: {devices - fleet.online} devices dropped during the window",
                  flush=True)
        return (100 * (c1 - c0) / wall, 100 * (b1 - b0) / wall, rss_mib(rig.central.pid),
                (n1 - n0) / wall)
    finally:
        if fleet is not None:
            fleet.close()
        if bare is not None:
            bare.kill()
            bare.join(5)
        rig.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--heartbeat", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("--processes", type=int, default=0,
                        help="fleet processes (default: one per 2,500 devices, at least 2)")
    parser.add_argument("--settle", type=float, default=45.0,
                        help="seconds after every device is online before measuring")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    processes = args.processes or max(2, -(-args.devices // 2500))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.devices // processes + 256
    if soft < need:  # the fleet processes inherit it (the broker raises its own)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need * 2), hard))
    central, bare, rss, rate = [], [], [], []
    for run in range(args.runs):
        c, b, r, m = one_run(args.devices, args.heartbeat, processes, args.settle,
                             args.window)
        central.append(c)
        bare.append(b)
        rss.append(r)
        rate.append(m)
        print(f"run {run + 1}: central {c:.1f} % of a core, bare subscriber {b:.1f} % "
              f"({c / max(b, 1e-9):.2f}x), central RSS {r:.0f} MiB, {m:,.0f} messages/s "
              f"received; {load_note()}", flush=True)
    c, b = median(central), median(bare)
    print(f"central CPU with {args.devices:,} devices heartbeating every {args.heartbeat:g} s, "
          f"median of {args.runs}: {c:.1f} % of a core (RSS {median(rss):.0f} MiB); baseline "
          f"bare subscriber of the same traffic, same windows: {b:.1f} %; ratio "
          f"{c / max(b, 1e-9):.2f} (goal <= 2)")
    print_footer("fleet.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
