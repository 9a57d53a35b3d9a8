"""Try a boot bundle on this PC: the bundle's own agent config on mock pins.

``alarmlink provision try-local --bundle OUT`` (or ``provision device ... --try-local``)
loads ``OUT/alarmlink/agent.toml`` and rewrites only the paths that point at the Pi's
file system: the password file and the CA certificate are read from the bundle, the
outbox goes to ``OUT/try-local-state`` (or ``--state-dir``). Everything else (device id,
broker URL, inputs, timings) is the bundle's, so the device connects to the broker
exactly as the Pi will. The pins are gpiozero mock pins at rest; events are marked
``test`` unless ``--live``.

``--walk`` plays a walk test: every zone once (press a button, trip and restore a
detector, cut and mend a loop), then waits until central stored every event.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import tomllib
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class TryError(Exception):
    """A one-line failure for the user."""


def add_try_arguments(parser: argparse.ArgumentParser, *, with_bundle: bool) -> None:
    if with_bundle:
        parser.add_argument("--bundle", type=Path, required=True,
                            help="the --out directory of `provision device`")
    parser.add_argument("--walk", action="store_true",
                        help="walk test: every zone once, then wait until central stored all")
    parser.add_argument("--interactive", action="store_true",
                        help="read press|trip|restore|cut|mend ZONE from stdin")
    parser.add_argument("--live", action="store_true",
                        help="send REAL alarms (default: events are marked test)")
    parser.add_argument("--state-dir", type=Path,
                        help="outbox directory (default BUNDLE/try-local-state)")
    parser.add_argument("--drain-timeout", type=float, default=30.0, metavar="S",
                        help="how long --walk waits for central (default 30 s)")


def walk_scenario(config_path: Path, out: Path) -> Path:
    """A scenario touching every zone of the config once; written to ``out``."""
    config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    steps: list[str] = []
    for item in config.get("inputs", []):
        zone = item["zone"]
        actions = {"button": ["press"], "detector": ["trip", "restore"],
                   "loop": ["cut", "mend"]}.get(item.get("type", ""), [])
        steps += [f"[[step]]\nat = 0.0\naction = '{a}'\nzone = '{zone}'\n" for a in actions]
    out.write_text("name = 'walk test: every zone once'\n" + "".join(steps), encoding="utf-8")
    return out


def venue_args(bundle: Path, args: argparse.Namespace, scenario: Path | None
               ) -> argparse.Namespace:
    """The ``sim venue`` arguments that run ``bundle`` here."""
    files = bundle / "alarmlink"
    config = files / "agent.toml"
    if not config.is_file():
        raise TryError(f"{config} not found: give --bundle the --out directory of "
                       "`alarmlink provision device`")
    password = files / "credentials" / "mqtt-password"
    if not password.is_file():
        raise TryError(f"{password} not found: the bundle was booted already (first boot "
                       "moves the password off the card); provision the device again")
    overrides = []
    if (files / "ca.crt").is_file():
        raw: dict[str, Any] = tomllib.loads(config.read_text(encoding="utf-8"))
        if "ca_file" in raw.get("broker", {}):
            overrides.append(f"broker.ca_file={(files / 'ca.crt').resolve()}")
    state = args.state_dir or bundle / "try-local-state"
    state.mkdir(parents=True, exist_ok=True)
    return argparse.Namespace(
        config=str(config), scenario=str(scenario) if scenario else None, repeat=False,
        interactive=args.interactive, once=scenario is not None,
        drain_timeout=args.drain_timeout, broker=None, password_file=str(password),
        protocol=None, state_dir=str(state), walk_test=False, live=args.live, set=overrides)


def try_local(bundle: Path, args: argparse.Namespace) -> int:
    """Run ``bundle``'s agent here on mock pins (blocks until done or Ctrl-C)."""
    from simulators.cli import cmd_venue

    bundle = bundle.resolve()
    with tempfile.TemporaryDirectory(prefix="alarmlink-walk-") as tmp:
        scenario = None
        if args.walk:
            scenario = walk_scenario(bundle / "alarmlink" / "agent.toml",
                                     Path(tmp) / "walk.toml")
        sim_args = venue_args(bundle, args, scenario)
        print(f"trying {bundle} on this PC: mock pins, password and CA from the bundle, "
              f"outbox in {sim_args.state_dir}", flush=True)
        return int(cmd_venue(sim_args))
