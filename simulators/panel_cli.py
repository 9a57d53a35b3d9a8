"""``alarmlink sim panel``: a fire panel / transmission device talking to an agent.

::

    alarmlink sim panel --protocol gb26875 --port pty --link /tmp/ttyPANEL
    alarmlink sim panel --protocol contactid --port tcp://127.0.0.1:4001 --noise 0.2
    alarmlink sim panel --protocol sia-dc09 --port /dev/ttyUSB1 --baudrate 9600 --once

``--port pty`` (the default) creates a pseudo-terminal and prints its path; ``--link``
keeps a symlink pointing at it (like /dev/serial/by-id), so the agent config stays the
same when a scenario unplugs and replugs it. ``tcp://HOST:PORT`` listens for the agent's
``socket://HOST:PORT``. Anything else is opened with pyserial: a USB-serial adapter
cabled to the agent's adapter. Without ``--scenario`` the shipped example
``firmware_configs/scenarios/panel-<protocol>.toml`` is played. The agent's confirms,
denies, ACKs and NAKs are printed as they arrive. Exit codes: 0 ok, 1 frames left
unconfirmed (with ``--once``), 2 bad arguments or scenario.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from alarmlink.config_base import ConfigError

SCENARIOS = Path(__file__).resolve().parents[1] / "firmware_configs" / "scenarios"
PROTOCOLS = ("gb26875", "contactid", "sia-dc09")


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: a probability per frame, 0..1")
    return value


def add_panel_command(commands: Any) -> None:
    panel = commands.add_parser(
        "panel", help="a fire panel sending GB 26875 / Contact ID / SIA DC-09 frames",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    panel.add_argument("--protocol", choices=PROTOCOLS,
                       help="protocol to speak (default: the scenario's)")
    panel.add_argument("--port", default="pty",
                       help="pty (default), tcp://HOST:PORT, or a device path / pyserial URL")
    panel.add_argument("--link", metavar="PATH",
                       help="with --port pty: keep a symlink at PATH pointing at the pty")
    panel.add_argument("--scenario", metavar="FILE", help="scenario TOML file "
                       "(default: firmware_configs/scenarios/panel-<protocol>.toml)")
    panel.add_argument("--repeat", action="store_true", help="repeat the scenario forever")
    panel.add_argument("--once", action="store_true",
                       help="exit after the scenario: 0 if every frame was confirmed")
    panel.add_argument("--noise", type=_rate, default=0.0, metavar="RATE",
                       help="probability of a random-byte burst before each frame")
    panel.add_argument("--corrupt", type=_rate, default=0.0, metavar="RATE",
                       help="probability of a bad-checksum copy before each frame")
    panel.add_argument("--seed", type=int, help="random seed for --noise/--corrupt")
    panel.add_argument("--checksum", choices=["sum", "sum-from-command", "xor"],
                       default="sum", help="gb26875 checksum variant (default sum)")
    panel.add_argument("--baudrate", type=int, default=9600,
                       help="for a real serial port (default 9600, 8N1)")
    panel.add_argument("--answer-timeout", type=float, default=3.0, metavar="S",
                       help="resend a frame not answered within S seconds (default 3)")
    panel.add_argument("--retries", type=int, default=3, help="resends per frame (default 3)")
    ip = panel.add_argument_group("SIA DC-09 over IP to central's receiver "
                                  "(simulators/dc09_ip.py)")
    ip.add_argument("--receiver", metavar="URL",
                    help="tcp://HOST:PORT or udp://HOST:PORT: speak DC-09 to a receiver")
    ip.add_argument("--account", default="1234", help="DC-09 account (default 1234)")
    ip.add_argument("--key-file", metavar="FILE",
                    help="file holding the AES key (hex): encrypt every message")
    ip.add_argument("--alarm", action="append", default=[], metavar="CODE:ZONE",
                    help="send a SIA event, e.g. FA:12 (repeatable)")
    ip.add_argument("--link-test", type=float, metavar="S",
                    help="then send a NULL link test every S seconds until interrupted")
    panel.set_defaults(func=cmd_panel)


def cmd_panel(args: argparse.Namespace) -> int:
    if args.receiver:
        from simulators.dc09_ip import run_cli

        return run_cli(args)
    from simulators.panel import PanelSimulator
    from simulators.panel_ports import open_panel_port
    from simulators.panel_scenario import load_panel_scenario

    path = args.scenario
    if path is None:
        if args.protocol is None:
            print("sim panel: give --protocol or --scenario", file=sys.stderr)
            return 2
        path = SCENARIOS / f"panel-{args.protocol}.toml"
    try:
        scenario = load_panel_scenario(path)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    protocol = args.protocol or scenario.protocol
    if scenario.protocol != protocol:
        print(f"sim panel: {path} is a {scenario.protocol} scenario, not {protocol}",
              file=sys.stderr)
        return 2
    try:
        port = open_panel_port(args.port, link=args.link, baudrate=args.baudrate)
    except (OSError, ValueError) as exc:
        print(f"sim panel: cannot open {args.port}: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    sim = PanelSimulator(protocol, port, noise=args.noise, corrupt_rate=args.corrupt,
                         seed=args.seed, checksum=args.checksum, retries=args.retries,
                         answer_timeout_s=args.answer_timeout)
    try:
        sim.start()
        where = args.link or getattr(port, "path", args.port)
        if where.startswith("tcp://"):  # the agent connects with pyserial's socket:// URL
            where = "socket://" + where.removeprefix("tcp://")
        sim.say(f"agent config: port = \"{where}\", "
                f"protocol = \"{protocol}\"")
        if not sim.wait_peer(stop=stop):
            return 0
        finished = sim.play(scenario, repeat=args.repeat, stop=stop)
        sim.say(sim.summary())
        if args.once:
            return 0 if finished and not sim.unanswered else 1
        sim.say("scenario done; the port stays open until Ctrl-C")
        stop.wait()
        return 0
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
