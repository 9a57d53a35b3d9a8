"""Shared rig for the benchmarks: a private Mosquitto with one account per device,
a real ``alarmlink central serve`` child process, publishers in separate processes.

Not a package and not shipped: the ``bench/`` scripts import it from their own folder.
Every wait is bounded; :class:`Rig` removes its temporary directory when closed.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import tomli_w
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alarmlink import wire  # noqa: E402
from alarmlink.broker import BrokerError, BrokerUser, MosquittoBroker, free_port  # noqa: E402
from alarmlink.broker_endpoint import BrokerConfig  # noqa: E402
from alarmlink.mqtt import connect_client  # noqa: E402

PROBE = "bench-probe"
#: central's second account (``telemetry_broker``): heartbeats etc. off the events' socket.
TELEMETRY = "central-telemetry"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


TICKS = os.sysconf("SC_CLK_TCK")


def with_children(pid: int) -> list[int]:
    """``pid`` and its child processes (central's MQTT process: ``mqtt_process``)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(c) for c in children.read_text().split())] if children.exists() \
        else [pid]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of a process (all its threads) and its children."""
    total = 0.0
    for one in with_children(pid):
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return total


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (MiB)."""
    sizes = {one: line for one in with_children(pid)
             for line in Path(f"/proc/{one}/status").read_text().splitlines()
             if line.startswith("VmRSS:")}
    if pid not in sizes:
        raise SystemExit(f"no VmRSS for process {pid}")
    return sum(int(line.split()[1]) for line in sizes.values()) / 1024


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def registry_text(devices: list[str]) -> str:
    text = (ROOT / "central" / "demo_registry.toml").read_text()
    for dev in devices:
        text += f'\n[[devices]]\nid = "{dev}"\nvenue = "village-01"\nzones = ["z1"]\n'
    return text


def plain_client(url: str, username: str, password: str, *, clean: bool = True,
                 keepalive: int = 60) -> mqtt.Client:
    """A plain paho client (not our wrapper: baselines measure the broker alone)."""
    config = BrokerConfig(url=url, username=username, password=SecretStr(password))
    return connect_client(config, client_id=username, keepalive=keepalive, clean=clean)


def event_bytes(device: str, seq: int, kind: str = "fire") -> bytes:
    return wire.encode(wire.Event(event_id=wire.new_id(), device_id=device, seq=seq,
                                  ts=wire.utcnow(), kind=wire.Kind(kind),
                                  state=wire.State.ALARM, zone="z1",
                                  source=wire.Source.GPIO))


class Rig:
    """Broker + accounts (+ central on demand), in one temporary directory."""

    def __init__(self, devices: list[str], *, max_connections: int | None = None,
                 extra_accounts: list[str] | None = None) -> None:
        """``devices`` get a broker account and a registry entry; ``extra_accounts`` (devices
        already in the demo registry, e.g. ``school-01``) only the account."""
        self.work = Path(tempfile.mkdtemp(prefix="alarmlink-bench-"))
        if os.geteuid() == 0:  # Mosquitto drops root for user mosquitto: let it through
            os.chmod(self.work, 0o711)
        self.devices = devices
        self.passwords = {d: f"pw-{d}" for d in devices}
        self.passwords["central"] = "bench-central"
        self.passwords[PROBE] = "bench-probe-pw"
        extra = list(extra_accounts or [])
        self.passwords.update({d: f"pw-{d}" for d in extra})
        self.passwords[TELEMETRY] = self.passwords["central"]
        users = [BrokerUser("central", self.passwords["central"], "central"),
                 BrokerUser(TELEMETRY, self.passwords[TELEMETRY], "central"),
                 BrokerUser(PROBE, self.passwords[PROBE], "central"),
                 *(BrokerUser(d, self.passwords[d]) for d in [*devices, *extra])]
        self.central: subprocess.Popen[bytes] | None = None
        self.http_port = 0
        for attempt in range(3):  # a port free a moment ago may be taken (other benches)
            # central on a listener of its own, as `central init` deploys it (devices on
            # the TLS one): the devices' reconnect storms fill their accept queue only
            self.broker = MosquittoBroker(users, workdir=self.work / f"mosquitto-{attempt}",
                                          central_listener=True)
            try:
                self.broker.start()
                break
            except BrokerError:
                self.broker.close()
                if attempt == 2:
                    shutil.rmtree(self.work, ignore_errors=True)
                    raise

    @property
    def url(self) -> str:
        return self.broker.url

    def client(self, username: str, *, clean: bool = True) -> mqtt.Client:
        return plain_client(self.url, username, self.passwords[username], clean=clean)

    def start_central(self, extra: dict[str, Any] | None = None, timeout: float = 60, *,
                      debug: tuple[str, ...] = ()) -> None:
        for attempt in range(3):  # its HTTP port, free a moment ago, may be taken meanwhile
            try:
                self._start_central(extra, timeout, debug)
                return
            except SystemExit:
                log = (self.work / "central.log").read_text(errors="replace")
                if attempt == 2 or "address already in use" not in log:
                    raise

    def _start_central(self, extra: dict[str, Any] | None, timeout: float,
                       debug: tuple[str, ...]) -> None:
        (self.work / "central-password").write_text(self.passwords["central"])
        os.chmod(self.work / "central-password", 0o600)
        reg = self.work / "reg.toml"
        reg.write_text(registry_text(self.devices))
        self.http_port = free_port()
        conf = {"data_dir": str(self.work / "central"), "registry": str(reg),
                "broker": {"url": self.broker.central_url, "username": "central",
                           "password_file": str(self.work / "central-password")},
                "http": {"host": "127.0.0.1", "port": self.http_port}}
        conf.update(extra or {})
        (self.work / "central.toml").write_text(tomli_w.dumps(conf))
        self.central_log = open(self.work / "central.log", "wb")  # noqa: SIM115
        self.central = subprocess.Popen(
            [sys.executable, "-m", "alarmlink_tools.cli",
             *(f"--debug={name}" for name in debug), "central", "serve", "--config",
             str(self.work / "central.toml")], stdout=self.central_log,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                # 200 only once central's database and MQTT subscriptions are ready
                urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz",
                                       timeout=2).close()
                break
            except OSError:
                if self.central.poll() is not None:
                    raise SystemExit("central exited at start; see its log") from None
                if time.monotonic() > deadline:
                    raise SystemExit("central did not start within its deadline") from None
                time.sleep(0.1)

    def add_admin(self, username: str = "bench-admin", password: str = "bench-admin-pw-1") -> str:
        """An admin account in central's database (the real CLI); returns its password."""
        secret = self.work / f"password-{username}"
        secret.write_text(password + "\n")
        os.chmod(secret, 0o600)
        subprocess.run([sys.executable, "-m", "alarmlink_tools.cli", "central", "user", "add",
                        "--db", str(self.work / "central" / "central.db"), "--username", username,
                        "--role", "admin", "--node", "root", "--password-file", str(secret)],
                       check=True, capture_output=True, timeout=60)
        return password

    def telemetry_conf(self) -> dict[str, Any]:
        """``telemetry_broker`` for :meth:`start_central` (after it wrote the password)."""
        return {"telemetry_broker": {"url": self.broker.central_url, "username": TELEMETRY,
                                     "password_file": str(self.work / "central-password")}}

    def stop_central(self) -> None:
        if self.central is not None and self.central.poll() is None:
            self.central.send_signal(signal.SIGTERM)
            try:
                self.central.wait(20)
            except subprocess.TimeoutExpired:
                self.central.kill()
                self.central.wait(5)
        self.central = None

    def close(self) -> None:
        try:
            self.stop_central()
        finally:
            self.broker.close()
            shutil.rmtree(self.work, ignore_errors=True)


def _publish_worker(url: str, creds: list[tuple[str, str]], per_device: int, qos: int,
                    start: Any, kind: str) -> None:
    """One process: connect its devices, wait for ``start``, publish as fast as it can."""
    clients = [(d, plain_client(url, d, pw)) for d, pw in creds]
    topics = wire.Topics()
    payloads = [(d, c, [event_bytes(d, s + 1, kind) for s in range(per_device)])
                for d, c in clients]
    start.wait(60)
    infos = []
    for i in range(per_device):
        for d, c, msgs in payloads:
            infos.append(c.publish(topics.event(d), msgs[i], qos=qos))
    deadline = time.monotonic() + 120
    for info in infos:
        info.wait_for_publish(max(0.1, deadline - time.monotonic()))
    for _d, c in clients:
        c.disconnect()
        c.loop_stop()


def publish_events(url: str, creds: list[tuple[str, str]], per_device: int, *,
                   processes: int = 2, qos: int = 1, kind: str = "fire"
                   ) -> tuple[list[mp.Process], Any]:
    """Start publisher processes (connected, waiting); set the returned event to go."""
    ctx = mp.get_context("fork")
    start = ctx.Event()
    procs = []
    for k in range(processes):
        part = creds[k::processes]
        p = ctx.Process(target=_publish_worker, args=(url, part, per_device, qos, start, kind),
                        daemon=True)
        p.start()
        procs.append(p)
    return procs, start


def join_all(procs: list[mp.Process], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.1, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()


# ----------------------------------------------------------- shared by the scripts


def wait_until(check: Any, timeout: float, what: str, every: float = 0.005) -> float:
    """Poll ``check`` until true; the seconds it took. Exits with ``what`` on timeout."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - t0


class Api:
    """Central's API as a logged-in admin (session cookie, X-CSRF-Token)."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        body, headers = self.call("POST", "/api/login",
                                  {"username": username, "password": password})
        token = ""
        for cookie in headers.get_all("set-cookie") or []:
            name, _, rest = cookie.partition("=")
            if name == "alarmlink_session":
                token = rest.split(";", 1)[0]
        self.headers = {"Cookie": f"alarmlink_session={token}",
                        "X-CSRF-Token": body["csrf_token"]}

    def call(self, method: str, path: str, body: Any = None) -> tuple[Any, Any]:
        req = urllib.request.Request(
            self.base + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **getattr(self, "headers", {})})
        with urllib.request.urlopen(req, timeout=15) as answer:
            return json.loads(answer.read() or b"null"), answer.headers

    def online_devices(self, since: str = "") -> int:
        """Devices central shows online (and heard at or after ``since``, an ISO time),
        read page by page; -1 when central did not answer within the call's timeout (it is
        still catching up after a restart)."""
        online, after = 0, ""
        while True:
            try:
                page, headers = self.call("GET", f"/api/devices?limit=1000&after={after}")
            except OSError:  # a timeout: counted as not there yet
                return -1
            online += sum(1 for d in page
                          if d["online"] and (d.get("last_seen") or "") >= since)
            after = headers.get("X-Next-After")
            if not after:
                return online


def fast_reconnect(rig: Rig) -> dict[str, Any]:
    """``start_central`` extra: central reconnects within a second of the broker's return
    (its default backoff grows to 30 s during an outage)."""
    return {"broker": {"url": rig.broker.central_url, "username": "central",
                       "reconnect_min_s": 1,
                       "reconnect_max_s": 1,
                       "password_file": str(rig.work / "central-password")}}


def load_note() -> str:
    """The machine's load averages (1, 5, 15 min): printed beside every figure."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def print_footer(script: str) -> None:
    """The last lines of every script: the load it ran under and the command to repeat it."""
    print(load_note())
    print(f"command: .venv/bin/python bench/{script} " + " ".join(sys.argv[1:]))

def offline_troubles(db: Path) -> int:
    """``device offline`` trouble zones central opened so far (read-only, its own file)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT zones FROM incidents WHERE category = 'trouble'").fetchall()
    except sqlite3.Error as exc:
        print(f"troubles not counted: {exc}", flush=True)
        return -1
    finally:
        conn.close()
    return sum(1 for (zones,) in rows for zone in json.loads(zones) if zone.startswith("device:"))


def online_in_db(db: Path, since: str) -> int:
    """Devices online at central and heard at or after ``since``, as its device list shows
    them (supervision ``up`` and status ``online``), read from its database file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute(
            "SELECT count(*) FROM device_state s LEFT JOIN supervision p USING (device_id) "
            "WHERE s.availability = 'online' AND coalesce(p.state, 'up') = 'up' "
            "AND s.last_seen >= ?", [since]).fetchone()[0])
    except sqlite3.Error:  # busy past the timeout: not there yet
        return -1
    finally:
        conn.close()
