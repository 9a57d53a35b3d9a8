"""Press -> console latency, end to end, with up to 10,000 background devices.

A mock-pin press on the real agent code (gpiozero MockFactory, our debounce) goes through
the durable outbox, MQTT, central's ingest (SQLite commit) and the WebSocket push to a
logged-in console. Each press opens a new incident (the bench resolves it after). The
background is ``alarmlink sim fleet`` (simulators/fleet.py): real MQTT connections, each
device its own broker account, driven from several processes with epoll (no ``select()``
limit), heartbeating in one of three modes:

``spread``  heartbeats spread evenly over the interval;
``burst``   every device's heartbeat at the same instant, every interval (a fleet in step);
            each press is made 0-50 ms after a burst's instant, so it meets the burst;
``agent``   as the real agent: ±20 % jitter on every heartbeat and reconnect.

``--restarts K``: K times, stop the broker, start it again, press 2 s after it listens
again whether or not the agent has reconnected yet (the event waits in its outbox until
then), and time until every device is heard online at central (status
``online``, supervision ``up``, heard after the restart: read from central's database file
every 0.5 s, so the bench's polling costs central nothing; then confirmed once through
``GET /api/devices``, page by page).
The presses after a restart are summed up apart from the steady ones.

Each press is also split into hops, all on the system's monotonic clock (the bench's and
central's ``central.latency`` log, which the bench turns on with ``--debug``): the
debounce (press -> the agent's filter reports it), the outbox commit and the hand-over to
paho, agent -> broker -> central's MQTT thread, waiting for the writer, the alarm's own
batch (commit, receipts, push handed to the event loop) and the push to the console.

Baseline, same run and same load: a bare QoS 1 publish -> subscribe hop through the same
broker, one between every two presses. Every wait is bounded; the temporary directory
(broker, central, agent outbox) is removed at the end, also on failure.

    .venv/bin/python bench/latency.py --presses 100 --background 2000 --mode burst
    .venv/bin/python bench/latency.py --background 10000 --mode agent --restarts 30
    .venv/bin/python bench/latency.py --presses 3 --background 10000 --mode agent \
        --restarts 10 --storm-presses 3      # 30 presses in the storms, 2-5 s after
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _rig import PROBE, ROOT, Api, Rig, offline_troubles, online_in_db, pct
from _rig import wait_until as _wait_until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from alarmlink import wire
from edge_agent.config import load_config
from simulators.fleet import Fleet, FleetPlan
from simulators.venue import VenueSimulator

STATION = "chengxiang"
AGENT = "school-01"
HOP = "school-02"


#: The bench's waits poll every 0.2 s (its own polling must not load the machine).
wait_until = functools.partial(_wait_until, every=0.2)


def summary(name: str, ms: list[float]) -> str:
    return (f"{name:<30} n={len(ms):4d}  p50={pct(ms, 50):8.2f} ms  p90={pct(ms, 90):8.2f} ms"
            f"  p99={pct(ms, 99):8.2f} ms  max={max(ms):8.2f} ms")


class Console:
    """A logged-in console's WebSocket: when each new incident arrived."""

    def __init__(self, url: str, cookie: str) -> None:
        self.ws = connect(url, open_timeout=15, additional_headers={"Cookie": cookie})
        self.new: dict[str, float] = {}  # first_event_id -> arrival (perf_counter)
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                now = time.perf_counter()
                msg: dict[str, Any] = json.loads(raw)
                if msg.get("type") == "incident" and msg["incident"]["status"] == "new":
                    with self.cond:
                        self.new.setdefault(msg["incident"]["first_event_id"], now)
                        self.cond.notify_all()
        except ConnectionClosed:
            pass  # central stopped at the end of the run

    def wait(self, event_id: str, timeout: float = 30.0) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: event_id in self.new, timeout):
                raise SystemExit(f"incident for {event_id} not pushed within {timeout} s")
            return self.new[event_id]


class Hop:
    """The baseline: a bare QoS 1 publish -> receive through the same broker."""

    def __init__(self, rig: Rig) -> None:
        self.got = threading.Event()
        self.sub = rig.client(PROBE)
        self.sub.on_message = lambda _c, _u, _m: self.got.set()
        granted = threading.Event()
        self.sub.on_subscribe = lambda *_a: granted.set()
        self.sub.subscribe(wire.Topics().event(HOP), qos=1)
        if not granted.wait(10):
            raise SystemExit("baseline subscription not granted within 10 s")
        self.pub = rig.client(HOP)

    def sample(self) -> float:
        self.got.clear()
        t0 = time.perf_counter()
        self.pub.publish(wire.Topics().event(HOP), b"x", qos=1)
        if not self.got.wait(10):
            raise SystemExit("baseline: message not received within 10 s")
        return (time.perf_counter() - t0) * 1000

    def close(self) -> None:
        for c in (self.sub, self.pub):
            c.disconnect()
            c.loop_stop()


HOPS = ("debounce", "outbox commit, to paho", "agent -> central MQTT", "wait for writer",
        "own batch, to the push", "push -> console")
#: Not on the way to the console: after the push, the WAL's fsync, receipts, PUBACK.
AFTER_PUSH = "(after the push: fsync, receipts)"


class HopLog:
    """Reads central's ``central.latency`` lines for the agent's events (monotonic times)."""

    def __init__(self, path: Path, device: str) -> None:
        self.path = path
        self.marker = f"hops alarmlink/v1/dev/{device}/event "
        self.offset = 0
        self.lines: list[dict[str, float]] = []
        self.pushed = 0.0  # the last "pushed" line (it comes before its batch's hops line)

    def after(self, t: float, timeout: float = 5.0) -> dict[str, float] | None:
        """The first event line received at or after ``t`` (None: not logged in time)."""
        deadline = time.monotonic() + timeout
        while True:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
            cut = chunk.rfind(b"\n") + 1
            self.offset += cut
            for line in chunk[:cut].decode(errors="replace").splitlines():
                if " pushed at=" in line:
                    self.pushed = float(line.rsplit("=", 1)[1])
                elif self.marker in line:
                    fields = line.split(self.marker, 1)[1].split()
                    hops = {k: float(v) for k, v in (f.split("=", 1) for f in fields)}
                    if hops["taken"] <= self.pushed <= hops["committed"]:
                        hops["pushed"] = self.pushed
                    self.lines.append(hops)
            found = [h for h in self.lines if h["received"] >= t - 0.001]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


def _stop_on_sigterm(_signum: int, _frame: Any) -> None:
    raise SystemExit("stopped by SIGTERM")  # the finally blocks clean up


def main() -> int:  # noqa: PLR0915 - one straight script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=100)
    parser.add_argument("--background", type=int, default=2000)
    parser.add_argument("--heartbeat", type=float, default=15.0, help="seconds (default 15)")
    parser.add_argument("--mode", choices=["spread", "burst", "agent"], default="burst")
    parser.add_argument("--processes", type=int, default=0,
                        help="fleet processes (default: one per 1,500 devices, at least 2)")
    parser.add_argument("--telemetry", action=argparse.BooleanOptionalAction, default=True,
                        help="central's second connection for heartbeats and status "
                             "(telemetry_broker; default on)")
    parser.add_argument("--restarts", type=int, default=0,
                        help="broker restarts, one press 2 s after each (default 0)")
    parser.add_argument("--storm-presses", type=int, default=1,
                        help="presses per restart: the first 2 s after it, each further one "
                             "as soon as the one before reached the console (default 1)")
    parser.add_argument("--keep-log", type=Path, default=None, metavar="FILE",
                        help="copy central's log here before the temporary directory goes")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    bg = [f"bg-{i:05d}" for i in range(args.background)]
    rig = Rig(bg, extra_accounts=[AGENT, HOP])
    fleet: Fleet | None = None
    sim: VenueSimulator | None = None
    hop: Hop | None = None
    try:
        rig.start_central(rig.telemetry_conf() if args.telemetry else None, timeout=120,
                          debug=("central.latency",))
        hop_log = HopLog(rig.work / "central.log", AGENT)
        api = Api(f"http://127.0.0.1:{rig.http_port}", "bench-admin", rig.add_admin())
        processes = args.processes or max(2, -(-args.background // 1500))
        fleet = Fleet(FleetPlan(url=rig.url, heartbeat_s=args.heartbeat, mode=args.mode),
                      [(d, rig.passwords[d]) for d in bg], processes)
        fleet.start()
        connect_s = wait_until(lambda: fleet.poll(0.5) or fleet.online >= len(bg), 300,
                               "background devices connected")
        print(f"{len(bg)} background devices connected in {connect_s:.1f} s "
              f"({processes} processes)", flush=True)
        db_file = rig.work / "central" / "central.db"
        wait_until(lambda: online_in_db(db_file, "") >= len(bg), 120,
                   "central sees them online", every=0.5)

        config = load_config(ROOT / "firmware_configs" / "school.toml")
        button = config.inputs[0].model_dump(mode="json")
        config = config.with_overrides({
            "broker.url": rig.url, "broker.password": rig.passwords[AGENT],
            "state_dir": str(rig.work / "agent"), "inputs": [button]})
        raised: dict[str, float] = {}
        entered: dict[str, float] = {}  # the debounce is over: the outbox commit starts
        published: dict[str, float] = {}  # handed to paho
        sim = VenueSimulator(config, out=None)
        agent = sim.agent
        agent.event_listeners.append(
            lambda e: raised.setdefault(e.event_id, time.perf_counter()))
        real_commit, real_publish = agent._commit, agent._sender.publish

        def timed_commit(*a: Any, **kw: Any) -> wire.Event:
            t = time.perf_counter()
            event = real_commit(*a, **kw)
            entered.setdefault(event.event_id, t)
            return event

        def timed_publish(payload: bytes) -> bool:
            t = time.perf_counter()
            ok = real_publish(payload)
            published.setdefault(json.loads(payload)["event_id"], t)
            return ok

        agent._commit = timed_commit  # type: ignore[method-assign]
        agent._sender.publish = timed_publish  # the sender's hand-over to paho
        sim.start()
        wait_until(lambda: sim is not None and sim.agent.connected, 30, "the agent connected")
        console = Console(f"ws://127.0.0.1:{rig.http_port}/ws?station={STATION}",
                          api.headers["Cookie"])
        hop = Hop(rig)

        hops: dict[str, list[float]] = {h: [] for h in (*HOPS, AFTER_PUSH)}

        def press() -> tuple[float, float]:
            assert sim is not None
            t0 = time.perf_counter()
            event = sim.press(button["zone"])
            t_console = console.wait(event.event_id)
            eid = event.event_id
            central = hop_log.after(published.get(eid, raised[eid]))
            if central is not None and eid in entered and eid in published \
                    and "pushed" in central:
                marks = [t0, entered[eid], published[eid], central["received"],
                         central["taken"], central["pushed"], t_console]
                for name, a, b in zip(HOPS, marks, marks[1:], strict=False):
                    hops[name].append((b - a) * 1000)
                hops[AFTER_PUSH].append((central["committed"] - central["pushed"]) * 1000)
            else:
                print(f"press {eid}: hops not all seen (central's line: "
                      f"{'yes' if central else 'no'})", flush=True)
            for attempt in range(4):  # resolved so the next press opens a new incident
                try:
                    incidents, _headers = api.call("GET", f"/api/incidents?station={STATION}")
                    for item in incidents:
                        if item["category"] == "alarm":
                            api.call("POST", f"/api/incidents/{item['id']}/resolve",
                                     {"outcome": "test", "note": "bench"})
                    break
                except OSError as exc:  # central too busy to answer in 15 s (a restart)
                    print(f"press {eid}: incident not resolved ({exc}); retry {attempt + 1}",
                          flush=True)
            return (t_console - t0) * 1000, (t_console - entered.get(eid, raised[eid])) * 1000

        total, pipeline, base, back, fleet_back = [], [], [], [], []
        for _ in range(args.presses):
            if args.mode == "burst":  # press into the burst: the fleet's grid is shared
                now = time.monotonic()
                grid = (now // args.heartbeat + 1) * args.heartbeat
                time.sleep(grid - now + random.uniform(0.0, 0.05))
            else:
                time.sleep(random.uniform(0.0, 0.5))
            t, p = press()
            total.append(t)
            pipeline.append(p)
            base.append(hop.sample())
            fleet.poll(0.01)
        restart_ms: list[float] = []
        for k in range(args.restarts):
            hop.close()
            stamp = wire.utcnow()  # central's format (central/db: iso), compared as text
            since = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
            t_stop = time.monotonic()
            rig.broker.stop()
            rig.broker.start()
            t_restart = time.monotonic()  # the broker listens again
            time.sleep(2.0)  # the scenario: pressed 2 s after the restart, connected or not
            agent_up = sim.agent.connected
            storm: list[str] = []
            for _n in range(max(1, args.storm_presses)):
                offset = time.monotonic() - t_restart
                t, p = press()
                restart_ms.append(t)
                pipeline.append(p)
                storm.append(f"{t:.0f} ms at +{offset:.1f} s")
            connected_at: list[float] = []  # the fleet's own count: every device connected

            def all_back(s: str = since, seen: list[float] = connected_at,
                         t0: float = t_restart) -> bool:
                assert fleet is not None
                fleet.poll(0.05)
                if not seen and fleet.online >= len(bg):
                    seen.append(time.monotonic() - t0)
                return online_in_db(db_file, s) >= len(bg) + 1

            try:  # central's own file, read-only: the bench's polling costs central nothing
                wait_until(all_back, 60, "every device back online at central", every=0.5)
                back.append(time.monotonic() - t_restart)
                if connected_at:
                    fleet_back.append(connected_at[0])
                seen = api.online_devices(since)  # and its device list says the same
                if seen < len(bg) + 1:
                    print(f"restart {k + 1}: the device list shows {seen} online", flush=True)
                came_back = (f"all {len(bg) + 1} devices online at central {back[-1]:.1f} s "
                             "after the restart (all connected to the broker after "
                             f"{connected_at[0] if connected_at else float('nan'):.1f} s)")
            except SystemExit:
                fleet.poll(1.5)  # the workers report once a second
                came_back = (f"NOT all back within 60 s: {online_in_db(db_file, since)} of "
                             f"{len(bg) + 1} heard online at central; {fleet.online} of "
                             f"{len(bg)} background devices connected to the broker (the "
                             f"fleet's own count)")
            hop = Hop(rig)
            base.append(hop.sample())
            troubles = offline_troubles(db_file)
            print(f"restart {k + 1}: broker down {t_restart - t_stop:.1f} s; agent "
                  f"{'connected' if agent_up else 'NOT yet connected'} at the press; "
                  f"press -> console {', '.join(storm)}; {came_back}; device offline "
                  f"troubles so far: {troubles}", flush=True)
        print(f"alarmlink press->console: {len(total)} presses, {len(bg)} background devices "
              f"heartbeating every {args.heartbeat:g} s ({args.mode}), "
              f"{args.restarts} broker restarts, telemetry connection "
              f"{'on' if args.telemetry else 'off'}")
        if total:
            print(summary("press -> console", total))
        if restart_ms:
            print(summary("press 2 s after a restart", restart_ms))
        print(summary("  debounce over -> console", pipeline))
        for name in (*HOPS, AFTER_PUSH):
            if hops[name]:
                print(summary(f"  hop: {name}", hops[name]))
        print(summary("baseline: bare MQTT hop", base))
        if args.restarts:
            print(f"device offline troubles opened in the whole run: "
                  f"{offline_troubles(rig.work / 'central' / 'central.db')} (each a device "
                  "that was in fact back: false)")
            print(f"restart -> every device online at central (from the broker listening "
                  f"again): {len(back)} of "
                  f"{args.restarts} restarts within 60 s" + (
                      f", p50 {pct(back, 50):.1f} s, max {max(back):.1f} s" if back else ""))
            if fleet_back:
                print(f"restart -> every device connected to the broker (the fleet's count): "
                      f"p50 {pct(fleet_back, 50):.1f} s, max {max(fleet_back):.1f} s")
        print("command: .venv/bin/python bench/latency.py " + " ".join(sys.argv[1:]))
    finally:
        if hop is not None:
            hop.close()
        if sim is not None:
            sim.stop()
        if fleet is not None:
            fleet.close()
        if args.keep_log is not None:
            rig.stop_central()
            shutil.copyfile(rig.work / "central.log", args.keep_log)
        rig.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
