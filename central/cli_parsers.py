"""One way to declare a ``alarmlink central`` subcommand: name, handler, help, description.

The command modules (``broker_cli``, ``pg_cli``, ...) add their arguments to the parser
this returns; the handler is bound here, so a command can never be declared without one.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace], int]


def subcommand(commands: Any, name: str, handler: Handler, *, summary: str,
               description: str) -> argparse.ArgumentParser:
    """Add subcommand ``name`` (``summary`` in the command list, ``description`` in its
    --help) that runs ``handler(args)``."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=summary,
                                                          description=description)
    parser.set_defaults(func=handler)
    return parser
