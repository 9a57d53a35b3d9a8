"""QoS 1 events stored per second at central, against a bare subscriber in the same run.

100 devices (each its own broker account) publish 20,000 fire alarms at QoS 1 from two
processes as fast as they can. Baseline: a bare paho subscriber that only counts the
same traffic (central not yet started). Figure: events stored per second by a real
``alarmlink central serve``, timed from the go signal to the last ``stored`` receipt
(sent only after the commit), seen by a probe subscribed to the receipts: ``mosquitto_sub``
(C, Debian's ``mosquitto-clients``), so that counting central's 20,000 receipts does not
take the CPU central needs on the same 2 cores (``--probe python`` counts them with the
bare paho subscriber instead, which costs about what the baseline itself does).

    .venv/bin/python bench/ingest.py --runs 3
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time

from _probes import CProbe, Probe
from _rig import (
    Rig,
    cpu_seconds,
    join_all,
    load_note,
    median,
    print_footer,
    publish_events,
)

from alarmlink import wire


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def measure(rig: Rig, channel: str, devices: int, per_device: int, c_probe: bool = False
            ) -> tuple[float, float]:
    """(messages/s, CPU µs per message of what is measured: this process's bare subscriber
    for ``event``, central and its MQTT process for ``receipt``)."""
    total = devices * per_device
    cpu = _own_cpu if channel == "event" else functools.partial(
        cpu_seconds, rig.central.pid if rig.central else 0)
    topic = wire.Topics().all_devices(channel)
    probe = CProbe(rig, topic, total) if c_probe else Probe(rig, topic, total)
    creds = [(d, rig.passwords[d]) for d in rig.devices]
    procs, go = publish_events(rig.url, creds, per_device)
    time.sleep(3)  # let the publisher processes connect (outside the timed part)
    c0 = cpu()
    t0 = time.perf_counter()
    go.set()
    if not probe.done.wait(180):
        raise SystemExit(f"not all {total:,} {channel} messages seen within 180 s")
    c1 = cpu()
    join_all(procs)
    probe.close()
    return total / (probe.last - t0), (c1 - c0) / total * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--probe", choices=["c", "python"], default="c",
                        help="what counts central's receipts (default: mosquitto_sub)")
    args = parser.parse_args()
    per_device = args.events // args.devices
    bare, stored, bare_us, central_us = [], [], [], []
    for run in range(args.runs):
        rig = Rig([f"dev-{i:04d}" for i in range(args.devices)])
        try:
            rate, us = measure(rig, "event", args.devices, per_device)
            bare.append(rate)
            bare_us.append(us)
            rig.start_central()
            rate, us = measure(rig, "receipt", args.devices, per_device,
                               c_probe=args.probe == "c")
            stored.append(rate)
            central_us.append(us)
        finally:
            rig.close()
        print(f"run {run + 1}: bare subscriber {bare[-1]:,.0f}/s, central stored "
              f"{stored[-1]:,.0f}/s ({stored[-1] / bare[-1]:.2f}x); CPU per message: bare "
              f"subscriber {bare_us[-1]:.0f} us, central {central_us[-1]:.0f} us (with its "
              f"MQTT process); {load_note()}", flush=True)
    b, s = median(bare), median(stored)
    ratio = median([x / y for x, y in zip(stored, bare, strict=True)])  # each run's own pair
    print(f"CPU per message, median: bare subscriber {median(bare_us):.0f} us, central "
          f"{median(central_us):.0f} us (the 2 cores are shared with the broker and the "
          f"publishers: the ratio below follows the CPU each message costs)")
    print(f"QoS 1 events stored/s at central ({args.devices * per_device:,} events, "
          f"{args.devices} devices), median of {args.runs}: {s:,.0f}/s; baseline bare "
          f"subscriber {b:,.0f}/s; ratio {ratio:.2f}, median of the runs' (goal >= 0.85 "
          f"and >= 5,000/s); receipts counted by "
          f"{'mosquitto_sub' if args.probe == 'c' else 'a paho subscriber'}")
    print_footer("ingest.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
