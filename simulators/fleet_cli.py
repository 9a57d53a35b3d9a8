"""``alarmlink sim fleet``: thousands of simulated devices against a real broker.

    alarmlink sim fleet --broker mqtt://HOST:1883 --credentials fleet.txt \\
        [--devices 10000] [--processes 8] [--heartbeat 15] [--mode agent|spread|burst] \\
        [--alarm-every 1] [--duration 60]

``--credentials``: one ``device_id:password`` a line (each device its own broker account;
``alarmlink central device add`` makes them). A progress line with rates every few
seconds; at the end connections, drops, heartbeats, and the alarms' publish -> ``stored``
receipt latency (p50/p99/max) and loss (alarms without a receipt).

Each device is a socket: raise the file-descriptor limit of the broker (systemd
``LimitNOFILE``, see docs/operations.md) and of this shell (``ulimit -n``) above the
number of devices.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

from simulators.fleet import Fleet, FleetPlan


def add_fleet_command(commands: Any) -> None:
    fleet = commands.add_parser(
        "fleet", help="thousands of simulated devices: heartbeats, status, alarms",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    fleet.add_argument("--broker", required=True, metavar="URL", help="mqtt://host:port")
    fleet.add_argument("--credentials", required=True, metavar="FILE",
                       help="device_id:password, one a line")
    fleet.add_argument("--devices", type=int, default=None,
                       help="use the first N accounts of the file (default: all)")
    fleet.add_argument("--processes", type=int, default=4, help="worker processes (default 4)")
    fleet.add_argument("--heartbeat", type=float, default=15.0, metavar="S",
                       help="heartbeat interval (default 15 s)")
    fleet.add_argument("--mode", choices=["agent", "spread", "burst"], default="agent",
                       help="heartbeat timing (default: as the agent, ±20 %% jitter)")
    fleet.add_argument("--alarm-every", type=float, default=0.0, metavar="S",
                       help="each process raises a fire alarm every S seconds (default: none)")
    fleet.add_argument("--duration", type=float, default=60.0, metavar="S",
                       help="run this long, then report (default 60 s)")
    fleet.set_defaults(func=cmd_fleet)


def read_credentials(path: Path) -> list[tuple[str, str]]:
    creds = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        device, sep, password = line.partition(":")
        if not sep or not device or not password:
            raise ValueError(f"{path}:{number}: expected device_id:password")
        creds.append((device.strip(), password.strip()))
    return creds


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def cmd_fleet(args: argparse.Namespace) -> int:
    try:
        creds = read_credentials(Path(args.credentials))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the credentials: {exc}", file=sys.stderr)
        return 2
    creds = creds[:args.devices] if args.devices else creds
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = len(creds) // max(1, args.processes) + 64
    if soft < need:
        print(f"error: {len(creds)} devices in {args.processes} processes need {need} open "
              f"files each, the limit is {soft}: run 'ulimit -n {need * 2}' or use more "
              "--processes", file=sys.stderr)
        return 2
    plan = FleetPlan(url=args.broker, heartbeat_s=args.heartbeat, mode=args.mode,
                     alarm_every_s=args.alarm_every)
    fleet = Fleet(plan, creds, max(1, min(args.processes, len(creds))))
    started = time.monotonic()
    fleet.start()
    try:
        last, last_beats = started, 0
        while time.monotonic() - started < args.duration:
            fleet.poll(2.0)
            now = time.monotonic()
            t = fleet.totals
            rate = (t.heartbeats - last_beats) / max(1e-6, now - last)
            last, last_beats = now, t.heartbeats
            print(f"[{now - started:6.1f}s] online {fleet.online}/{len(creds)}  heartbeats "
                  f"{t.heartbeats} ({rate:,.0f}/s)  drops {t.drops}  alarms {t.alarms} stored "
                  f"{t.stored}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.close()
    t = fleet.totals
    print(f"fleet: {len(creds)} devices, {t.connects} connects, {t.drops} drops, "
          f"{t.heartbeats} heartbeats in {time.monotonic() - started:.0f} s")
    if t.alarms:
        lost = t.alarms - t.stored
        lat = t.latencies_ms or [float("nan")]
        print(f"alarms: {t.alarms} raised, {t.stored} stored, {lost} without a receipt at the "
              f"end; publish -> stored p50 {pct(lat, 50):.1f} ms p99 {pct(lat, 99):.1f} ms "
              f"max {max(lat):.1f} ms")
    return 0
