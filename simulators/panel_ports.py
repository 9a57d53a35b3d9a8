"""Where the panel simulator's bytes go: a pseudo-terminal, a TCP listener, a real port.

Each port has the same small interface (:class:`PanelPort`): ``peer_open()`` (is the
agent on the other end?), ``write``, ``read`` (short timeout, ``b""`` when nothing came)
and ``close``. A pseudo-terminal can also be unplugged and plugged again.

- :class:`PtyPort`: ``os.openpty()``; the agent opens the slave path, or the ``link``
  symlink the port keeps pointing at the current slave, like udev's
  ``/dev/serial/by-id`` links (a new pty has a new ``/dev/pts/N``). The agent is "on"
  while the slave is open, seen as the master's POLLHUP going away.
- :class:`TcpServerPort`: listens on ``tcp://host:port``; the agent connects with
  ``port = "socket://host:port"`` (like a TCP serial server).
- :class:`PyserialPort`: any pyserial URL or device, e.g. a USB-serial adapter wired
  to the agent's adapter (null-modem loopback on the bench).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import tty
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import serial


class PortGone(OSError):
    """The other end is not there (pty slave closed, TCP client gone)."""


class PanelPort(Protocol):
    def peer_open(self) -> bool: ...
    def write(self, data: bytes) -> None: ...
    def read(self, timeout: float) -> bytes: ...
    def close(self) -> None: ...
    def describe(self) -> str: ...


class PtyPort:
    """A pseudo-terminal pair; the agent opens :attr:`path` (or :attr:`link`)."""

    def __init__(self, link: str | Path | None = None) -> None:
        self.link = Path(link) if link is not None else None
        self.master: int | None = None
        self.path = ""
        self._lock = threading.Lock()
        self.plug()

    def plug(self) -> str:
        """Create a new pty (a new /dev/pts/N) and point :attr:`link` at it."""
        with self._lock:
            if self.master is not None:
                raise RuntimeError("the pty is plugged in already")
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo or CR/LF translation before the agent sets it up
            self.path = os.ttyname(slave)
            os.close(slave)  # the agent's open shows as POLLHUP clearing on the master
            self.master = master
            if self.link is not None:
                tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
                tmp.unlink(missing_ok=True)
                tmp.symlink_to(self.path)
                os.replace(tmp, self.link)
            return self.path

    def unplug(self) -> None:
        """Close the master (the agent's reads fail) and remove the link: a pulled adapter."""
        with self._lock:
            if self.master is not None:
                os.close(self.master)
                self.master = None
            if self.link is not None:
                self.link.unlink(missing_ok=True)

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def _events(self, timeout: float) -> int:
        master = self.master
        if master is None:
            return 0
        poller = select.poll()
        poller.register(master, select.POLLIN | select.POLLHUP)
        try:
            return sum(mask for _fd, mask in poller.poll(int(timeout * 1000)))
        except (OSError, ValueError):  # closed under us by unplug()
            return 0

    def peer_open(self) -> bool:
        return self.master is not None and not self._events(0) & select.POLLHUP

    def write(self, data: bytes) -> None:
        master = self.master
        if master is None:
            raise PortGone("the pty is unplugged")
        view = memoryview(data)
        while view:
            try:
                written = os.write(master, view)
            except OSError as exc:
                raise PortGone(f"pty write failed: {exc}") from None
            view = view[written:]

    def read(self, timeout: float) -> bytes:
        events = self._events(timeout)
        if not events & select.POLLIN:
            if events & select.POLLHUP or self.master is None:
                threading.Event().wait(min(timeout, 0.05))  # nobody on the slave: no spin
            return b""
        master = self.master
        if master is None:
            return b""
        try:
            return os.read(master, 4096)
        except OSError:
            return b""

    def close(self) -> None:
        self.unplug()

    def describe(self) -> str:
        return f"{self.link} -> {self.path}" if self.link else self.path


class TcpServerPort:
    """Listens on ``host:port`` and serves one agent connection at a time."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
            raise ValueError(f"{url!r}: expected tcp://HOST:PORT")
        self.server = socket.create_server((parts.hostname, parts.port), reuse_port=False)
        self.server.settimeout(0)
        self.host, self.port = self.server.getsockname()[:2]
        self.conn: socket.socket | None = None

    def peer_open(self) -> bool:
        if self.conn is None:
            self._accept(0)
        return self.conn is not None

    def _accept(self, timeout: float) -> None:
        ready, _, _ = select.select([self.server], [], [], timeout)
        if ready:
            with contextlib.suppress(BlockingIOError):
                conn, _addr = self.server.accept()
                conn.setblocking(True)
                old, self.conn = self.conn, conn
                if old is not None:
                    old.close()

    def write(self, data: bytes) -> None:
        conn = self.conn
        if conn is None:
            raise PortGone("no agent connected")
        try:
            conn.sendall(data)
        except OSError as exc:
            self._drop(conn)
            raise PortGone(f"agent connection lost: {exc}") from None

    def read(self, timeout: float) -> bytes:
        conn = self.conn
        if conn is None:
            self._accept(timeout)
            return b""
        ready, _, _ = select.select([conn, self.server], [], [], timeout)
        if self.server in ready:
            self._accept(0)
        if conn not in ready:
            return b""
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
        return data

    def _drop(self, conn: socket.socket) -> None:
        if self.conn is conn:
            self.conn = None
        conn.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.server.close()

    def describe(self) -> str:
        return f"tcp://{self.host}:{self.port} (agent: port = \"socket://{self.host}:{self.port}\")"


class PyserialPort:
    """A real serial device or any pyserial URL (``/dev/ttyUSB1``, ``socket://...``)."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.port = serial.serial_for_url(url, timeout=0.05, write_timeout=2, **options)

    def peer_open(self) -> bool:
        return True  # a serial line cannot tell; the panel just talks

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise PortGone(f"write to {self.url} failed: {exc}") from None

    def read(self, timeout: float) -> bytes:
        try:
            waiting = self.port.in_waiting
            return bytes(self.port.read(waiting if waiting > 0 else 1))
        except (serial.SerialException, OSError):
            threading.Event().wait(timeout)
            return b""

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self.port.close()

    def describe(self) -> str:
        return self.url


def open_panel_port(spec: str | None, *, link: str | None = None, **options: Any) -> PanelPort:
    """``pty`` (default), ``tcp://HOST:PORT``, or a device path / pyserial URL."""
    if spec in (None, "", "pty"):
        return PtyPort(link)
    assert spec is not None
    if link is not None:
        raise ValueError("--link is only for --port pty")
    if spec.startswith("tcp://"):
        return TcpServerPort(spec)
    return PyserialPort(spec, **options)
