"""systemd's notify protocol (``sd_notify``), in a few lines of stdlib.

A service with ``Type=notify`` tells systemd it is ready (``READY=1``), what it
is doing (``STATUS=...``), that it is alive (``WATCHDOG=1``, at least every
``WatchdogSec=``) and that it is stopping (``STOPPING=1``) by sending one
datagram per message to the AF_UNIX socket named in ``$NOTIFY_SOCKET``. A name
starting with ``@`` is an abstract socket (a leading NUL byte).

Outside systemd (no ``$NOTIFY_SOCKET``) every call is a cheap no-op, so the same
code runs on a developer's PC, in tests and under systemd.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

logger = logging.getLogger(__name__)


class Notifier:
    """Sends notify messages to ``$NOTIFY_SOCKET`` (read once, at construction)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        environ = os.environ if env is None else env
        raw = environ.get("NOTIFY_SOCKET", "")
        self.address: str | bytes | None = None
        if raw.startswith("@"):
            self.address = b"\0" + raw[1:].encode()
        elif raw.startswith("/"):
            self.address = raw
        elif raw:
            logger.warning("NOTIFY_SOCKET=%r is neither a path nor an abstract @name; ignored",
                           raw)
        self.watchdog_interval_s = _watchdog_interval(environ)
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send ``fields`` (e.g. ``"READY=1"``, ``"STATUS=connected"``) as one datagram."""
        if self.address is None:
            return False
        message = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self.address)
        except OSError as exc:
            if not self._failed:  # log the first failure, not one per watchdog ping
                logger.warning("sd_notify to %r failed: %s", self.address, exc)
            self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """``WatchdogSec=`` as seconds, from ``$WATCHDOG_USEC`` (None when not set for us)."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (e.g. our parent)
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None
