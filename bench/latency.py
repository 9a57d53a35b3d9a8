"""Press -> console latency, end to end, against a real Mosquitto and a real central.

A mock-pin press on the real agent code (gpiozero MockFactory, our debounce) goes
through the durable outbox, MQTT, central's ingest (SQLite commit) and the
WebSocket push to a console client. Each press opens a new incident (the bench
resolves the previous one), and the time from driving the pin to the console
receiving the new incident is recorded. Background devices heartbeat meanwhile.

Printed: p50/p90/p99/max of press->console, its two parts (press->event raised,
i.e. debounce; raised->console, i.e. transport + ingest + push), and a baseline
measured in the same run: a bare MQTT publish->receive hop through the same
broker, so the ratio says what alarmlink adds on top of the broker.

    .venv/bin/python bench/latency.py --presses 300 --background 50
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import tomli_w
from pydantic import SecretStr
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alarmlink import wire  # noqa: E402
from alarmlink.broker import BrokerUser, MosquittoBroker, free_port  # noqa: E402
from alarmlink.broker_endpoint import BrokerConfig  # noqa: E402
from alarmlink.mqtt import connect_client  # noqa: E402
from edge_agent.config import load_config  # noqa: E402
from simulators.venue import VenueSimulator  # noqa: E402

STATION = "chengxiang"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(name: str, ms: list[float]) -> str:
    return (f"{name:<28} n={len(ms):4d}  p50={pct(ms, 50):7.2f} ms  p90={pct(ms, 90):7.2f} ms  "
            f"p99={pct(ms, 99):7.2f} ms  max={max(ms):7.2f} ms")


def registry(path: Path, background: list[str]) -> Path:
    text = (ROOT / "central" / "demo_registry.toml").read_text()
    for dev in background:
        text += f'\n[[devices]]\nid = "{dev}"\nvenue = "village-01"\nzones = ["z1"]\n'
    path.write_text(text)
    return path


def client(broker: MosquittoBroker, user: BrokerUser, client_id: str) -> mqtt.Client:
    """A plain paho client (not our wrapper: the baseline measures the broker hop)."""
    config = BrokerConfig(url=broker.url, username=user.username,
                          password=SecretStr(user.password))
    return connect_client(config, client_id=client_id, keepalive=30)


def heartbeats(clients: list[tuple[str, mqtt.Client]], interval: float,
               stop: threading.Event) -> None:
    topics = wire.Topics()
    started = time.monotonic()
    while not stop.wait(interval):
        for dev, c in clients:
            hb = wire.Heartbeat(ts=wire.utcnow(), uptime_s=time.monotonic() - started,
                                outbox_depth=0, inputs={"z1": "normal"})
            c.publish(topics.heartbeat(dev), wire.encode(hb), qos=0)


def baseline_hop(broker: MosquittoBroker, users: dict[str, BrokerUser], n: int) -> list[float]:
    """Bare broker hop: a device publishes QoS 1, a central-user subscriber receives it."""
    topics = wire.Topics()
    got = threading.Event()
    # an account of its own: the broker binds client ids to accounts, so "central" here
    # would take over the running central's session
    sub = client(broker, users["bench-probe"], "bench-probe")
    sub.on_message = lambda _c, _u, _m: got.set()
    sub.subscribe(topics.event("school-02"), qos=1)
    pub = client(broker, users["school-02"], "bench-baseline-pub")
    time.sleep(0.5)  # subscription settle before timing; not a synchronisation in a test
    samples = []
    for _ in range(n):
        got.clear()
        t0 = time.perf_counter()
        pub.publish(topics.event("school-02"), b"x", qos=1)
        if not got.wait(5):
            raise SystemExit("baseline: message not received within 5 s")
        samples.append((time.perf_counter() - t0) * 1000)
    for c in (sub, pub):
        c.disconnect()
        c.loop_stop()
    return samples


class Console:
    def __init__(self, url: str) -> None:
        self.ws = connect(url, open_timeout=10)
        self.new: dict[str, float] = {}  # first_event_id -> arrival (perf_counter)
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            self._consume()
        except ConnectionClosed:
            pass  # central stopped at the end of the run

    def _consume(self) -> None:
        for raw in self.ws:
            now = time.perf_counter()
            msg: dict[str, Any] = json.loads(raw)
            if msg.get("type") == "incident" and msg["incident"]["status"] == "new":
                with self.cond:
                    self.new.setdefault(msg["incident"]["first_event_id"], now)
                    self.cond.notify_all()

    def wait(self, event_id: str, timeout: float = 10.0) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: event_id in self.new, timeout):
                raise SystemExit(f"incident for {event_id} not pushed within {timeout}s")
            return self.new[event_id]


def api(url: str, path: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=300)
    parser.add_argument("--background", type=int, default=50,
                        help="background devices heartbeating (default 50)")
    parser.add_argument("--heartbeat", type=float, default=1.0,
                        help="background heartbeat interval in seconds (default 1)")
    parser.add_argument("--debounce-ms", type=int, default=None,
                        help="override the button's debounce (default: the school config's)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="alarmlink-bench-"))
    bg_ids = [f"bg-{i:04d}" for i in range(args.background)]
    if os.geteuid() == 0:  # Mosquitto drops root for user mosquitto: let it through
        os.chmod(work, 0o711)
    users = {u.username: u for u in [BrokerUser("central", "bench-central", "central"),
                                    BrokerUser("bench-probe", "bench-probe-pw", "central"),
                                    BrokerUser("school-01", "bench-school"),
                                    BrokerUser("school-02", "bench-school2"),
                                    *(BrokerUser(d, f"bench-{d}") for d in bg_ids)]}
    broker = MosquittoBroker(list(users.values()), workdir=work / "mosquitto")
    broker.start()
    (work / "central-password").write_text(users["central"].password)
    os.chmod(work / "central-password", 0o600)
    port = free_port()
    conf = work / "central.toml"
    conf.write_text(tomli_w.dumps({
        "data_dir": str(work / "central"), "registry": str(registry(work / "reg.toml", bg_ids)),
        "broker": {"url": broker.url, "username": "central",
                   "password_file": str(work / "central-password")},
        "http": {"host": "127.0.0.1", "port": port}}))
    central = subprocess.Popen([sys.executable, "-m", "alarmlink_tools.cli", "central", "serve",
                                "--config", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    bg_clients: list[tuple[str, mqtt.Client]] = []
    sim: VenueSimulator | None = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("central did not start") from None
                time.sleep(0.1)
        base = baseline_hop(broker, users, min(args.presses, 300))
        bg_clients = [(d, client(broker, users[d], d)) for d in bg_ids]
        threading.Thread(target=heartbeats, args=(bg_clients, args.heartbeat, stop),
                         daemon=True).start()

        config = load_config(ROOT / "firmware_configs" / "school.toml")
        button = config.inputs[0].model_dump(mode="json")
        if args.debounce_ms is not None:
            button["debounce_ms"] = args.debounce_ms
        config = config.with_overrides({
            "broker.url": broker.url, "broker.password": users["school-01"].password,
            "state_dir": str(work / "agent"), "inputs": [button]})
        raised: dict[str, float] = {}
        sim = VenueSimulator(config, out=None)
        sim.agent.event_listeners.append(
            lambda e: raised.setdefault(e.event_id, time.perf_counter()))
        sim.start()
        while not sim.agent.connected:
            time.sleep(0.05)
        console = Console(f"ws://127.0.0.1:{port}/ws?station={STATION}")
        total, debounce, pipeline = [], [], []
        for _ in range(args.presses):
            t0 = time.perf_counter()
            event = sim.press(button["zone"])
            t_console = console.wait(event.event_id)
            total.append((t_console - t0) * 1000)
            debounce.append((raised[event.event_id] - t0) * 1000)
            pipeline.append((t_console - raised[event.event_id]) * 1000)
            incident = json.loads(urllib.request.urlopen(
                f"{url}/api/incidents?station={STATION}", timeout=10).read())
            for inc in incident:
                api(url, f"/api/incidents/{inc['id']}/resolve",
                    {"actor": "bench", "outcome": "test"})
        print(f"alarmlink press->console latency: {args.presses} presses, "
              f"{args.background} background devices heartbeating every {args.heartbeat:g} s, "
              f"button debounce {button.get('debounce_ms', 'default')} ms")
        print(summary("press -> console", total))
        print(summary("  press -> event raised", debounce))
        print(summary("  event raised -> console", pipeline))
        print(summary("baseline: bare MQTT hop", base))
        print(f"ratio (event raised -> console) / bare MQTT hop, p50: "
              f"{statistics.median(pipeline) / statistics.median(base):.1f}x")
        print("command: .venv/bin/python bench/latency.py " + " ".join(sys.argv[1:]))
    finally:
        stop.set()
        if sim is not None:
            sim.stop()
        for _dev, c in bg_clients:
            c.disconnect()
            c.loop_stop()
        central.send_signal(signal.SIGTERM)
        central.wait(15)
        broker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
