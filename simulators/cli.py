"""``alarmlink sim ...``: simulators for hardware testers.

``alarmlink sim venue --config FILE [--scenario FILE] [--repeat] [--interactive]``
runs the real edge agent on gpiozero mock pins. Interactive commands (one per
line on stdin)::

    press ZONE     press and release a one-key button
    trip ZONE      put a detector in alarm
    restore ZONE   return a tripped detector to normal
    cut ZONE       cut a wire (loop, supervision loop, or an NC contact)
    mend ZONE      repair it
    status         connection, outbox, inputs, LED
    zones          list the zones
    quit           stop cleanly

The venue's LED stage changes are printed as they happen, e.g.
``[school-01] LED gate-button alarm 01JD...: acknowledged``.

``alarmlink sim panel --protocol gb26875|contactid|sia-dc09 --port pty|tcp://HOST:PORT``
plays a fire panel's frames in real bytes to an agent's ``[[serials]]`` port (see
:mod:`simulators.panel_cli`).

``alarmlink sim fleet --broker URL --credentials FILE`` runs thousands of simulated
devices from a few processes (see :mod:`simulators.fleet_cli`).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from edge_agent.config import AgentConfig, ConfigError, load_config

logger = logging.getLogger(__name__)

ACTIONS = ("press", "trip", "restore", "cut", "mend")


def add_sim_commands(sub: Any, name: str, help_text: str) -> None:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    commands = parser.add_subparsers(dest="sim_command", metavar="COMMAND")
    venue = commands.add_parser(
        "venue", help="run the real agent on mock pins; press, trip, cut from stdin or a file",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    venue.add_argument("--config", required=True, help="agent TOML config of the venue")
    venue.add_argument("--scenario", help="scenario TOML file (a timeline of actions)")
    venue.add_argument("--repeat", action="store_true", help="repeat the scenario forever")
    venue.add_argument("--interactive", action="store_true", help="read commands from stdin")
    venue.add_argument("--once", action="store_true",
                       help="after the scenario, wait until central stored every event "
                            "(see --drain-timeout), then exit: 0 if it did, 1 if not")
    venue.add_argument("--drain-timeout", type=float, default=30.0, metavar="S",
                       help="how long --once waits for central (default 30 s)")
    venue.add_argument("--broker", metavar="URL", help="override broker.url")
    venue.add_argument("--password-file", metavar="FILE", help="override broker.password_file")
    venue.add_argument("--protocol", choices=["mqttv5", "mqttv311"],
                       help="override broker.protocol")
    venue.add_argument("--state-dir", metavar="DIR",
                       help="outbox directory (default: a temporary one, removed at exit)")
    venue.add_argument("--walk-test", action="store_true",
                       help="mark every event as a test event (the default; kept for old "
                            "scripts)")
    venue.add_argument("--live", action="store_true",
                       help="send REAL alarms that reach the duty officers (default: every "
                            "event is marked test)")
    venue.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override any config key, e.g. --set heartbeat_interval_s=5")
    venue.set_defaults(func=cmd_venue)
    from simulators.panel_cli import add_panel_command

    add_panel_command(commands)
    from simulators.modem_cli import add_modem_command

    add_modem_command(commands)

    from simulators.fleet_cli import add_fleet_command

    add_fleet_command(commands)
    parser.set_defaults(func=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _overrides(args: argparse.Namespace, state_dir: str) -> dict[str, object]:
    overrides: dict[str, object] = {"state_dir": state_dir}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError([f"--set {item!r}: expected KEY=VALUE"])
        overrides[key.strip()] = value
    if args.broker:
        overrides["broker.url"] = args.broker
    if args.password_file:
        overrides["broker.password_file"] = str(Path(args.password_file).resolve())
    if args.protocol:
        overrides["broker.protocol"] = args.protocol
    if args.live and args.walk_test:
        raise ConfigError(["--live and --walk-test contradict each other: give one"])
    overrides["walk_test"] = not args.live
    return overrides


def cmd_venue(args: argparse.Namespace) -> int:
    from simulators.scenario import Scenario, load_scenario, run_scenario
    from simulators.venue import SimulatorError, VenueSimulator

    own_dir = args.state_dir is None
    state_dir = args.state_dir or tempfile.mkdtemp(prefix="alarmlink-sim-")
    try:
        config: AgentConfig = load_config(args.config, _overrides(args, state_dir))
        scenario: Scenario | None = (load_scenario(args.scenario, config) if args.scenario
                                     else None)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        if own_dir:
            shutil.rmtree(state_dir, ignore_errors=True)
        return 2
    if args.once and scenario is None:
        print("--once needs --scenario", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        venue = VenueSimulator(config)
    except ConfigError as exc:  # e.g. an unreadable password file
        for line in exc.problems:
            print(f"sim venue: {line}", file=sys.stderr)
        if own_dir:
            shutil.rmtree(state_dir, ignore_errors=True)
        return 2
    result = 0
    try:
        venue.say("LIVE: events are REAL alarms that reach the duty officers" if args.live
                  else "simulation: every event is marked test (--live sends real alarms)")
        venue.start()
        if own_dir:
            venue.say(f"outbox in temporary {state_dir} (use --state-dir to keep it)")
        if args.interactive:
            threading.Thread(target=_interactive, args=(venue, stop), daemon=True).start()
        if scenario is not None:
            done = threading.Event()

            def play() -> None:
                assert scenario is not None
                try:
                    run_scenario(venue, scenario, repeat=args.repeat, stop=stop)
                finally:
                    done.set()

            threading.Thread(target=play, daemon=True, name="scenario").start()
            if args.once:
                while not done.wait(0.1) and not stop.is_set():
                    pass
                if not stop.is_set():
                    drained = venue.wait_drained(args.drain_timeout)
                    venue.say("every event stored by central" if drained else
                              f"{venue.agent.outbox.depth()} event(s) not stored within "
                              f"{args.drain_timeout:g}s")
                    result = 0 if drained else 1
                    stop.set()
        elif not args.interactive:
            venue.say("no --scenario and no --interactive: idle until Ctrl-C")
        stop.wait()
    except SimulatorError as exc:
        print(f"sim venue: {exc}", file=sys.stderr)
        result = 1
    finally:
        venue.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if own_dir:
            shutil.rmtree(state_dir, ignore_errors=True)
    return result


def _interactive(venue: Any, stop: threading.Event) -> None:
    from simulators.venue import SimulatorError

    venue.say("commands: press|trip|restore|cut|mend ZONE, status, zones, quit")
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command = words[0].lower()
        if command in ("quit", "exit"):
            break
        try:
            if command == "status":
                venue.say(venue.status())
            elif command in ("zones", "help"):
                venue.say("zones: " + ", ".join(venue.zones))
            elif command in ACTIONS and len(words) == 2:
                getattr(venue, command)(words[1])
            else:
                venue.say(f"? {line.strip()!r}: commands: press|trip|restore|cut|mend ZONE, "
                          "status, zones, quit")
        except SimulatorError as exc:
            venue.say(f"{command}: {exc}")
    stop.set()
