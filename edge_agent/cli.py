"""``alarmlink agent ...``: run the edge agent, check its config, self-test a device.

::

    alarmlink agent run --config /etc/alarmlink/agent.toml
    alarmlink agent check-config /etc/alarmlink/agent.toml
    alarmlink agent self-test --config /etc/alarmlink/agent.toml

Set ``GPIOZERO_PIN_FACTORY=mock`` to run on a PC without GPIO. Mock pins start
at rest (normally-closed contacts and loops closed), so nothing is reported, and
every event is marked ``test`` unless ``--live`` is given. Use ``alarmlink sim
venue`` to press buttons and trip detectors.
Exit codes: 0 ok, 1 failed check or start, 2 unusable config.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from edge_agent.config import AgentConfig, ConfigError, DetectorInput, LoopInput, load_config

logger = logging.getLogger(__name__)


def add_agent_commands(sub: Any, name: str, help_text: str) -> None:
    parser = sub.add_parser(name, help=help_text, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="agent_command", metavar="COMMAND")

    run = commands.add_parser("run", help="run the agent until SIGTERM or Ctrl-C")
    run.add_argument("--config", required=True, help="agent TOML config file")
    run.add_argument("--live", action="store_true",
                     help="with GPIOZERO_PIN_FACTORY=mock: send real alarms (default: every "
                          "event of a mock-pin run is marked test)")
    run.set_defaults(func=cmd_run)

    check = commands.add_parser("check-config", help="validate a config file and summarise it")
    check.add_argument("file", help="agent TOML config file")
    check.set_defaults(func=cmd_check_config)

    test = commands.add_parser("self-test", help="check config, inputs, outbox and broker")
    test.add_argument("--config", required=True, help="agent TOML config file")
    test.add_argument("--timeout", type=float, default=5.0, help="broker answer timeout (s)")
    test.set_defaults(func=cmd_self_test)

    parser.set_defaults(func=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _load(path: str) -> AgentConfig | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return None


def _pin_factory_note() -> None:
    if os.environ.get("GPIOZERO_PIN_FACTORY", "").lower() == "mock":
        logger.warning("GPIOZERO_PIN_FACTORY=mock: inputs are simulated pins, not real GPIO")


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 2
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        logging.getLogger("edge_agent").setLevel(logging.INFO)  # a service logs its life
    _pin_factory_note()
    from edge_agent.mockpins import mock_factory, mock_requested, rest_pins

    factory = None
    if mock_requested():
        factory = mock_factory()
        if not args.live:
            config = config.with_overrides({"walk_test": True})
        print("mock pins at rest: " + ("LIVE: events are REAL alarms (--live)" if args.live
                                       else "every event is marked test (--live sends real "
                                            "alarms)"), flush=True)
    from gpiozero.exc import BadPinFactory, GPIOZeroError

    from alarmlink.dc09_keys import KeyFileError
    from edge_agent.agent import Agent  # gpiozero and paho only when running
    from edge_agent.camera.sources import CameraUnavailable
    from edge_agent.outbox import OutboxError
    from edge_agent.snapshots import SnapshotOutboxError
    from edge_agent.watchdog import Watchdog

    try:
        agent = Agent(config, pin_factory=factory, config_path=Path(args.config))
        if factory is not None:
            rest_pins(factory, config)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"{args.config}: {line}", file=sys.stderr)
        return 2
    except CameraUnavailable as exc:
        print(f"{args.config}: camera: {exc}", file=sys.stderr)
        return 2
    except KeyFileError as exc:  # [[serials]] key_file changed since the config was checked
        print(f"{args.config}: serials: {exc}", file=sys.stderr)
        return 2
    except (OutboxError, SnapshotOutboxError, GPIOZeroError, OSError) as exc:
        hint = ""
        if isinstance(exc, BadPinFactory):
            hint = (" (on a Pi install python3-lgpio; on a PC set GPIOZERO_PIN_FACTORY=mock "
                    "or use `alarmlink sim venue`)")
        print(f"alarmlink agent: cannot start {config.device_id}: {type(exc).__name__}: "
              f"{exc}{hint}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    watchdog = Watchdog(agent)  # systemd READY/WATCHDOG/STOPPING; no-op outside systemd
    try:
        agent.start()
        watchdog.start()
        print(f"alarmlink agent {config.device_id} running (outbox {config.outbox_path}); "
              "Ctrl-C stops", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        watchdog.stop()
        agent.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def describe(config: AgentConfig) -> list[str]:
    """A human summary of a valid config (no secrets)."""
    broker = config.broker
    lines = [
        f"device   {config.device_id}  \"{config.venue}\"",
        f"broker   {broker.url} as {broker.username} ({broker.protocol}), password from "
        f"{broker.password_source()}",
        f"outbox   {config.outbox_path}",
        f"timing   heartbeat {config.heartbeat_interval_s:g}s, resend after "
        f"{config.resend_timeout_s:g}s (up to {config.resend_max_s:g}s)",
        f"inputs   {len(config.inputs)}",
    ]
    for item in config.inputs:
        contact = "nc-loop" if isinstance(item, LoopInput) else item.contact
        extra = ""
        if isinstance(item, DetectorInput) and item.supervision_pin is not None:
            extra = f", supervision GPIO{item.supervision_pin}"
        lines.append(f"  {item.zone:<20} {item.type:<8} GPIO{item.pin:<3} {item.kind:<8} "
                     f"{contact:<15} debounce {item.debounce_ms} ms, confirm "
                     f"{item.confirm_ms} ms{extra}")
    if config.serials:
        lines.append(f"serials  {len(config.serials)}")
        lines += [f"  {item.describe()}" for item in config.serials]
    fb = config.feedback
    lines.append("feedback LED " + (f"GPIO{fb.led_pin}" if fb.led_pin is not None else "none")
                 + ", buzzer " + (f"GPIO{fb.buzzer_pin}" if fb.buzzer_pin is not None
                                  else "none"))
    cam = config.camera
    lines.append("camera   none" if cam is None else
                 f"camera   {cam.name} {cam.type} {cam.width}x{cam.height}, pre-alarm "
                 f"{cam.buffer_s:g}s at {cam.buffer_fps:g} fps, {cam.post_frames} post at "
                 f"{cam.post_fps:g} fps, outbox {cam.outbox_max_frames} frames / "
                 f"{cam.outbox_max_bytes // 1024**2} MiB")
    lines.append(f"hash     {config.config_hash()}")
    return lines


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.file)
    if config is None:
        return 2
    from edge_agent.selftest import config_warnings
    from edge_agent.serial.config import serial_warnings

    print(f"OK {args.file}")
    for line in describe(config):
        print(f"  {line}")
    for note in config_warnings(config) + serial_warnings(config.serials):
        print(f"  note: {note}")
    return 0


def cmd_self_test(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 2
    _pin_factory_note()
    from edge_agent.selftest import run_self_test

    report = run_self_test(config, broker_timeout=args.timeout)
    for line in report.lines():
        print(line)
    print("self-test " + ("passed" if report.ok else "FAILED"))
    return 0 if report.ok else 1
