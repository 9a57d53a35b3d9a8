"""One idle edge agent: RSS and CPU, against a bare paho client in the same run.

The agent is the real service, ``alarmlink agent run`` with ``GPIOZERO_PIN_FACTORY=mock``
(``firmware_configs/school.toml``: 8 inputs on mock pins, durable outbox, heartbeat every
15 s), connected to a private Mosquitto. The baseline, measured over the same seconds, is
a bare paho client (a Python process that imports only paho) connected to the same
broker. Both sit idle; CPU is the
process's user + system time over the window (``/proc/<pid>/stat``) as a share of one
core, RSS is ``VmRSS`` at the end of the window. Figures: medians of ``--runs``.

    .venv/bin/python bench/agent_idle.py --runs 3 --seconds 30
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from _rig import PROBE, ROOT, Rig, cpu_seconds, median, plain_client, rss_mib

from alarmlink import wire

AGENT = "school-01"
BASELINE = "school-02"
BARE = """
import sys, threading
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
host, port, user, password = sys.argv[1:5]
up = threading.Event()
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
client.username_pw_set(user, password)
client.on_connect = lambda *a: up.set()
client.connect(host, int(port), 30)
client.loop_start()
if not up.wait(30):
    raise SystemExit("no CONNACK")
print("ready", flush=True)
sys.stdin.read()
client.disconnect()
client.loop_stop()
"""


def agent_config(rig: Rig) -> Path:
    data = tomllib.loads((ROOT / "firmware_configs" / "school.toml").read_text())
    secret = rig.work / "agent-password"
    secret.write_text(rig.passwords[AGENT])
    secret.chmod(0o600)
    data["state_dir"] = str(rig.work / "agent")
    data["broker"].update(url=rig.url, password_file=str(secret))
    path = rig.work / "school.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def spawn_agent(rig: Rig) -> subprocess.Popen[str]:
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alarmlink_tools.cli", "agent", "run", "--config",
         str(agent_config(rig))], env=env, text=True, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=open(rig.work / "agent.log", "w"))  # noqa: SIM115
    deadline = time.monotonic() + 60
    while not connected(rig, AGENT):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"the agent did not connect; see {rig.work / 'agent.log'}")
        time.sleep(0.2)
    return proc


def connected(rig: Rig, device: str) -> bool:
    """The device's retained status says online (a probe subscribes and reads it)."""
    got: list[bytes] = []
    probe = plain_client(rig.url, PROBE, rig.passwords[PROBE])
    done = threading.Event()

    def on_message(_c: Any, _u: Any, message: Any) -> None:
        got.append(bytes(message.payload))
        done.set()

    probe.on_message = on_message
    probe.subscribe(wire.Topics().status(device), qos=1)
    done.wait(1.0)
    probe.disconnect()
    probe.loop_stop()
    return bool(got) and b'"online"' in got[-1]


def spawn_bare(rig: Rig) -> subprocess.Popen[str]:
    host, port = rig.url.removeprefix("mqtt://").rsplit(":", 1)
    proc = subprocess.Popen([sys.executable, "-c", BARE, host, port, BASELINE,
                             rig.passwords[BASELINE]], text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise SystemExit("the bare paho client did not connect")
    return proc


def one_run(seconds: float, settle: float) -> tuple[tuple[float, float], tuple[float, float]]:
    rig = Rig([], extra_accounts=[AGENT, BASELINE])
    procs: list[subprocess.Popen[str]] = []
    try:
        agent = spawn_agent(rig)
        procs.append(agent)
        bare = spawn_bare(rig)
        procs.append(bare)
        time.sleep(settle)  # start-up work (imports, first heartbeat) is not idling
        t0 = time.monotonic()
        start = {p.pid: cpu_seconds(p.pid) for p in procs}
        time.sleep(seconds)
        wall = time.monotonic() - t0
        out = [(100 * (cpu_seconds(p.pid) - start[p.pid]) / wall, rss_mib(p.pid))
               for p in (agent, bare)]
        return out[0], out[1]
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
            else:
                proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        rig.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args()
    agents, bares = [], []
    for run in range(args.runs):
        agent, bare = one_run(args.seconds, args.settle)
        agents.append(agent)
        bares.append(bare)
        print(f"run {run + 1}: agent CPU {agent[0]:.2f} % RSS {agent[1]:.1f} MiB; bare paho "
              f"client CPU {bare[0]:.2f} % RSS {bare[1]:.1f} MiB ({args.seconds:g} s, "
              f"load average {os.getloadavg()[0]:.1f})", flush=True)
    cpu, rss = median([a[0] for a in agents]), median([a[1] for a in agents])
    bcpu, brss = median([b[0] for b in bares]), median([b[1] for b in bares])
    print(f"one idle agent (mock pins, connected), median of {args.runs}: CPU {cpu:.2f} % of "
          f"a core, RSS {rss:.1f} MiB; baseline bare paho client, same runs: CPU {bcpu:.2f} %, "
          f"RSS {brss:.1f} MiB (goal: RSS <= 50 MiB, CPU <= 1 %)")
    print("command: .venv/bin/python bench/agent_idle.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
