"""CPU and memory cost of the agent's pre-alarm buffer (test-pattern camera, 1280x720).

Three scenarios, each in a fresh child process so RSS figures are not mixed:

- ``baseline``: the real agent (one mock-pin button, no camera);
- ``1fps`` and ``5fps``: the same agent with ``[camera] type = "test-pattern"`` at
  1280x720 and a 10 s pre-alarm ring buffer at 1 and 5 frames a second.

Each child builds and starts the agent, waits ``--warmup`` seconds (the ring buffer
fills), then measures over a fixed ``--window`` of wall time: CPU as % of one core
(``time.process_time`` delta / wall delta) and RSS (VmRSS from /proc/self/status)
at the end, minus the RSS just before the agent was built. No broker: the agent
retries its connection in the background in every scenario alike; no alarm is
raised, so the figures are the standing cost of the buffer alone.

Reproduce::

    .venv/bin/python bench/camera.py            # about 3 x 30 s
    .venv/bin/python bench/camera.py --window 10 --warmup 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCENARIOS: dict[str, dict[str, Any] | None] = {
    "baseline": None,
    "1fps": {"type": "test-pattern", "width": 1280, "height": 720, "buffer_s": 10,
             "buffer_fps": 1},
    "5fps": {"type": "test-pattern", "width": 1280, "height": 720, "buffer_s": 10,
             "buffer_fps": 5},
}


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def run_child(name: str, window: float, warmup: float) -> dict[str, Any]:
    from gpiozero.pins.mock import MockFactory

    from alarmlink.broker import free_port
    from edge_agent.agent import Agent
    from edge_agent.config import validate_config

    camera = SCENARIOS[name]
    with tempfile.TemporaryDirectory(prefix="alarmlink-bench-") as tmp:
        data: dict[str, Any] = {
            "device_id": "bench-01", "venue": "Bench School", "state_dir": tmp,
            "broker": {"url": f"mqtt://127.0.0.1:{free_port()}", "username": "bench-01",
                       "password": "x", "reconnect_min_s": 5, "reconnect_max_s": 30},
            "inputs": [{"type": "button", "zone": "gate-button", "pin": 17}],
        }
        if camera is not None:
            data["camera"] = camera
        config = validate_config(data, source="bench", base_dir=Path(tmp))
        before = rss_kib()
        agent = Agent(config, pin_factory=MockFactory())
        agent.start()
        try:
            time.sleep(warmup)  # a benchmark's fixed window, not synchronisation
            cpu0, wall0 = time.process_time(), time.monotonic()
            frames0 = agent.camera.frames_captured if agent.camera else 0
            time.sleep(window)
            cpu1, wall1 = time.process_time(), time.monotonic()
            frames1 = agent.camera.frames_captured if agent.camera else 0
            after = rss_kib()
            ring = len(agent.camera._ring) if agent.camera else 0
            ring_bytes = sum(len(f.jpeg) for f in agent.camera._ring) if agent.camera else 0
        finally:
            agent.stop()
    return {"scenario": name, "cpu_pct": 100 * (cpu1 - cpu0) / (wall1 - wall0),
            "rss_delta_mib": (after - before) / 1024, "rss_mib": after / 1024,
            "fps": (frames1 - frames0) / (wall1 - wall0), "ring_frames": ring,
            "ring_kib": ring_bytes / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--child", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.window, args.warmup)))
        return 0
    results = []
    for name in SCENARIOS:
        out = subprocess.run([sys.executable, __file__, "--child", name, "--window",
                              str(args.window), "--warmup", str(args.warmup)],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = results[0]
    print(f"pre-alarm buffer cost, test-pattern 1280x720, window {args.window:g} s "
          f"after {args.warmup:g} s warm-up")
    print("| scenario | CPU % of one core | +CPU vs baseline | RSS delta MiB | "
          "+RSS vs baseline | frames/s | ring frames | ring KiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['scenario']} | {r['cpu_pct']:.1f} | {r['cpu_pct'] - base['cpu_pct']:+.1f} "
              f"| {r['rss_delta_mib']:.1f} | {r['rss_delta_mib'] - base['rss_delta_mib']:+.1f} "
              f"| {r['fps']:.2f} | {r['ring_frames']} | {r['ring_kib']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
