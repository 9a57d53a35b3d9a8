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
import sys
import time

from _rig import CProbe, Probe, Rig, join_all, load_note, median, print_footer, publish_events

from alarmlink import wire


def measure(rig: Rig, channel: str, devices: int, per_device: int, c_probe: bool = False
            ) -> float:
    total = devices * per_device
    topic = wire.Topics().all_devices(channel)
    probe = CProbe(rig, topic, total) if c_probe else Probe(rig, topic, total)
    creds = [(d, rig.passwords[d]) for d in rig.devices]
    procs, go = publish_events(rig.url, creds, per_device)
    time.sleep(3)  # let the publisher processes connect (outside the timed part)
    t0 = time.perf_counter()
    go.set()
    if not probe.done.wait(180):
        raise SystemExit(f"only {probe.n}/{total} {channel} messages seen within 180 s")
    join_all(procs)
    probe.close()
    return total / (probe.last - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--probe", choices=["c", "python"], default="c",
                        help="what counts central's receipts (default: mosquitto_sub)")
    args = parser.parse_args()
    per_device = args.events // args.devices
    bare, stored = [], []
    for run in range(args.runs):
        rig = Rig([f"dev-{i:04d}" for i in range(args.devices)])
        try:
            bare.append(measure(rig, "event", args.devices, per_device))
            rig.start_central()
            stored.append(measure(rig, "receipt", args.devices, per_device,
                                  c_probe=args.probe == "c"))
        finally:
            rig.close()
        print(f"run {run + 1}: bare subscriber {bare[-1]:,.0f}/s, central stored "
              f"{stored[-1]:,.0f}/s ({stored[-1] / bare[-1]:.2f}x); {load_note()}", flush=True)
    b, s = median(bare), median(stored)
    print(f"QoS 1 events stored/s at central ({args.devices * per_device:,} events, "
          f"{args.devices} devices), median of {args.runs}: {s:,.0f}/s; baseline bare "
          f"subscriber {b:,.0f}/s; ratio {s / b:.2f} (goal >= 0.85 and >= 5,000/s); receipts "
          f"counted by {'mosquitto_sub' if args.probe == 'c' else 'a paho subscriber'}")
    print_footer("ingest.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
