"""``alarmlink demo``: a broker, central and three simulated venues in one process tree.

The broker is a private Mosquitto on a free loopback port when the binary is
present, otherwise the embedded amqtt broker (MQTT 3.1.1; see
:mod:`alarmlink_tools.embedded_broker` for its limits). Every client has its own
generated credentials, as in production. Central and each venue run as child
processes (``alarmlink central serve`` and ``alarmlink sim venue``), exactly the
commands an operator would run. Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol

import tomli_w

from alarmlink.broker import (
    BrokerError,
    BrokerUser,
    MosquittoBroker,
    free_port,
    mosquitto_binary,
)
from alarmlink_tools import resources

FIRMWARE = resources.firmware_configs()
REGISTRY = Path(str(importlib.resources.files("central"))) / "demo_registry.toml"
VENUES = ("school", "hotel", "village")
CLI = [sys.executable, "-m", "alarmlink_tools.cli"]


class DemoError(RuntimeError):
    """The demo cannot start; the message says what to do."""


class Broker(Protocol):
    @property
    def url(self) -> str: ...

    def start(self) -> None: ...

    def close(self) -> None: ...


def add_demo_command(sub: Any, name: str, help_text: str) -> None:
    parser = sub.add_parser(name, help=help_text, description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080,
                        help="console HTTP port (default 8080; a free one if it is taken)")
    parser.add_argument("--embedded-broker", action="store_true",
                        help="use the embedded amqtt broker even when mosquitto is installed")
    parser.add_argument("--venues", default=",".join(VENUES),
                        help="comma-separated venues from firmware_configs/ (default: all)")
    parser.add_argument("--data-dir", type=Path,
                        help="keep the demo's databases here (default: a temporary directory "
                             "removed at exit)")
    parser.add_argument("--access-log", action="store_true",
                        help="print every web request central answers (off: they bury the "
                             "venues' LED lines)")
    parser.set_defaults(func=run_demo)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def _start_broker(users: list[BrokerUser], workdir: Path, embedded: bool) -> tuple[Broker, str]:
    if not embedded and mosquitto_binary() is not None:
        # As root, Mosquitto drops to user mosquitto, which may not be able to enter the
        # data dir's parents (e.g. /root): the broker then gets its own directory under
        # the system temp dir, removed when the demo stops.
        broker_dir = None if os.geteuid() == 0 else workdir / "mosquitto"
        for attempt in range(1, 6):   # a free port can be taken before Mosquitto binds it
            broker: Broker = MosquittoBroker(users, workdir=broker_dir)
            try:
                broker.start()
            except BrokerError as exc:
                broker.close()
                if "in use" not in str(exc) or attempt == 5:
                    raise
                continue
            return broker, "mqttv5"
    from alarmlink_tools.embedded_broker import EmbeddedBroker

    print("demo: mosquitto not found, using the embedded amqtt broker (MQTT 3.1.1, demo only)")
    embedded_broker = EmbeddedBroker(users)
    embedded_broker.start()
    return embedded_broker, "mqttv311"


def _venue_config(name: str, broker_url: str, protocol: str, password_file: Path,
                  state_dir: Path, out: Path) -> Path:
    from edge_agent.config import load_config

    config = load_config(FIRMWARE / f"{name}.toml").with_overrides({
        "broker.url": broker_url, "broker.protocol": protocol,
        "broker.password_file": str(password_file), "state_dir": str(state_dir),
        "heartbeat_interval_s": 10,
        # generated pictures, so the console's filmstrip shows something (issue 4)
        "camera": {"type": "test-pattern", "width": 640, "height": 360},
    })
    data = config.model_dump(mode="json", exclude_none=True)
    out.write_text(tomli_w.dumps(data))
    return out


def _pump(proc: subprocess.Popen[str], prefix: str, stop: threading.Event) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        try:
            print(f"{prefix}{line}", end="", flush=True)
        except (BrokenPipeError, ValueError):
            # the reader has gone (`demo | head`): stop the demo, as SIGPIPE would, and
            # keep draining meanwhile so the child never blocks on a full pipe
            stop.set()


def _wait_http(url: str, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError("central exited during start; see its output above")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise DemoError(f"central did not become healthy at {url} within {timeout:.0f}s")


#: the demo's officers: user name, role, node (random passwords, printed at start)
DEMO_USERS = (
    ("admin", "admin", "root"),
    ("duty-chengxiang", "duty_officer", "station:chengxiang"),
    ("leader-chengxiang", "station_leader", "station:chengxiang"),
    ("duty-dading", "duty_officer", "station:dading"),
    ("installer", "installer", "station:chengxiang"),
)


def _demo_users(db: Path, secrets_dir: Path) -> list[tuple[str, str, str, str]]:
    """Create the demo's users with the real CLI; returns (name, role, node, password)."""
    made = []
    for name, role, node in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        secret = _private(secrets_dir / f"user-{name}.password", password)
        user = ["--db", str(db), "--username", name, "--password-file", str(secret)]
        done = subprocess.run([*CLI, "central", "user", "add", *user, "--role", role,
                               "--node", node], capture_output=True, text=True, check=False)
        if done.returncode != 0 and "already exists" in done.stderr:  # a kept --data-dir
            done = subprocess.run([*CLI, "central", "user", "passwd", *user],
                                  capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise DemoError(f"could not create demo user {name}: {done.stderr.strip()}")
        made.append((name, role, node, password))
    return made


def run_demo(args: argparse.Namespace) -> int:
    venues = [v.strip() for v in args.venues.split(",") if v.strip()]
    for venue in venues:
        if not (FIRMWARE / f"{venue}.toml").exists():
            print(f"demo: no firmware_configs/{venue}.toml (known venues: school, hotel, village)",
                  file=sys.stderr)
            return 2
    workdir = (args.data_dir or Path(tempfile.mkdtemp(prefix="alarmlink-demo-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # as root, Mosquitto drops to user mosquitto, which must pass through (not list) it
    os.chmod(workdir, 0o711 if os.geteuid() == 0 else 0o700)
    children: list[subprocess.Popen[str]] = []
    brokers: list[Broker] = []
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    # Ctrl-C raises KeyboardInterrupt, set explicitly: a demo started from a script's
    # background job inherits SIGINT ignored, and `kill -INT` must still stop it
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _run(args, venues, workdir, children, brokers, stop)
        return 0
    except (DemoError, BrokerError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        _say("demo: stopping venues, central and the broker ...")
        for proc in reversed(children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in children:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for broker in brokers:
            broker.close()
        if args.data_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        _say("demo: stopped")


def _say(line: str) -> None:
    """Print a line of the clean-up; a reader that has gone (``demo | head``) must not
    stop the clean-up half way and leave central and the venues running."""
    try:
        print(line, flush=True)
    except (BrokenPipeError, ValueError):   # ValueError: stdout already closed
        pass


def _spawn(cmd: list[str], prefix: str, children: list[subprocess.Popen[str]],
           stop: threading.Event) -> None:
    # own process group: Ctrl-C reaches only the demo, which then stops children in order
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    children.append(proc)
    threading.Thread(target=_pump, args=(proc, prefix, stop), daemon=True).start()


def _run(args: argparse.Namespace, venues: list[str], workdir: Path,
         children: list[subprocess.Popen[str]], brokers: list[Broker],
         stop: threading.Event) -> None:
    device_ids = {venue: f"{venue}-01" for venue in venues}
    users = [BrokerUser("central", secrets.token_urlsafe(24), "central")]
    users += [BrokerUser(dev, secrets.token_urlsafe(24)) for dev in device_ids.values()]
    secrets_dir = workdir / "credentials"
    for user in users:
        _private(secrets_dir / f"{user.username}.password", user.password)
    broker, protocol = _start_broker(users, workdir, args.embedded_broker)
    brokers.append(broker)

    port = args.port if args.port and _port_free(args.port) else free_port()
    central_conf = workdir / "central.toml"
    central_conf.write_text(tomli_w.dumps({
        "data_dir": str(workdir / "central"), "registry": str(REGISTRY),
        "broker": {"url": broker.url, "username": "central", "protocol": protocol,
                   "password_file": str(secrets_dir / "central.password")},
        "http": {"host": "127.0.0.1", "port": port},
    }))
    url = f"http://127.0.0.1:{port}"
    _spawn([*CLI, "central", "serve", "--config", str(central_conf),
            "--access-log" if args.access_log else "--no-access-log"], "[central] ", children, stop)
    _wait_http(url, children[0])
    officers = _demo_users(workdir / "central" / "central.db", secrets_dir)

    for venue in venues:
        conf = _venue_config(
            venue, broker.url, protocol, secrets_dir / f"{device_ids[venue]}.password",
            workdir / venue, workdir / f"{venue}.toml")
        scenario = FIRMWARE / "scenarios" / f"demo-{venue}.toml"
        cmd = [*CLI, "sim", "venue", "--live", "--config", str(conf),
               "--state-dir", str(workdir / venue)]
        if scenario.exists():
            cmd += ["--scenario", str(scenario), "--repeat"]
        _spawn(cmd, "", children, stop)

    print(f"\n  alarmlink demo is running.\n"
          f"  Console:  {url}/   (log in as one of these, click 'Enable sound')\n"
          + "".join(f"    {name:<20} {role:<15} {node:<20} password {password}\n"
                    for name, role, node, password in officers) +
          f"  Broker:   {broker.url} ({protocol})\n"
          f"  Venues:   {', '.join(device_ids.values())} raise alarms every so often;\n"
          f"            their LED lines below show sent -> stored -> acknowledged.\n"
          f"  Ctrl-C stops everything.\n", flush=True)
    while not stop.is_set():
        for proc in children:
            if proc.poll() is not None:
                raise DemoError(f"a child process exited (code {proc.returncode}): "
                                f"{proc.args!r}")
        stop.wait(0.5)
