"""The one command-line tool, ``alarmlink``.

Each package registers its own sub-commands; they are imported lazily so an
agent-only install (``pip install alarmlink[agent]``) never imports central's
web stack, and the reverse.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from alarmlink import __version__
from alarmlink.logsetup import FORMATS, configure

logger = logging.getLogger(__name__)

#: sub-command -> (module, function that adds its parsers, help)
GROUPS: dict[str, tuple[str, str, str]] = {
    "agent": ("edge_agent.cli", "add_agent_commands", "run and check the venue edge agent"),
    "central": ("central.cli", "add_central_commands", "the central dispatch server"),
    "sim": ("simulators.cli", "add_sim_commands", "sensor and venue simulators"),
    "demo": ("alarmlink_tools.demo", "add_demo_command", "broker, central and three venues"),
    "provision": ("alarmlink_tools.provision", "add_provision_commands",
                  "installers: provision, revoke and commission venue devices"),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alarmlink", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"alarmlink {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-v info, -vv debug)")
    parser.add_argument("--log-format", choices=FORMATS, default="text",
                        help="text (default) or json: one JSON object per line, for journald "
                             "and log shippers")
    parser.add_argument("--debug", action="append", default=[], metavar="LOGGER",
                        help="debug logging for one logger and its children (e.g. "
                             "central.latency: each event's hops), the rest as -v says; "
                             "repeatable")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    wanted = next((a for a in argv if a in GROUPS), None)
    for name, (module, func, help_text) in GROUPS.items():
        if wanted is not None and name != wanted:
            sub.add_parser(name, help=help_text)
            continue
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:  # an extra that is not installed
            p = sub.add_parser(name, help=f"{help_text} (unavailable: {exc.name} missing)")
            p.set_defaults(func=_missing(name, exc))
            continue
        getattr(mod, func)(sub, name, help_text)
    return parser


def _missing(name: str, exc: ImportError) -> object:
    def run(_args: argparse.Namespace) -> int:
        extra = "central" if name == "central" else "agent"
        print(f"alarmlink {name}: {exc}. Install it with: pip install 'alarmlink[{extra}]'",
              file=sys.stderr)
        return 2

    return run


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    configure(level, args.log_format)
    for name in args.debug:
        logging.getLogger(name).setLevel(logging.DEBUG)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `alarmlink ... | head`: the reader has gone, and that is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
