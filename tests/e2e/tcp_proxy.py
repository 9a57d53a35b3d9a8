"""A loopback TCP proxy between an agent and the broker that can lose the network.

* forwarding (the default): bytes are pumped both ways.
* :meth:`TcpProxy.blackhole`: a silent network loss. Nothing is read or written on any
  connection, current or new, and nothing is closed: no FIN, no RST, no error. Each side
  only finds out through its own keepalive, like a dead mobile link or a cable pulled
  somewhere upstream.
* :meth:`TcpProxy.restore`: the network is back. The stale connections are reset (a real
  peer answers packets of a connection it forgot with RST) and new ones are forwarded.
* :meth:`TcpProxy.cut`: reset every current connection at once, keep forwarding new
  ones: a short dropout that both sides notice immediately.
"""

from __future__ import annotations

import logging
import select
import socket
import struct
import threading

logger = logging.getLogger(__name__)


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass  # already closed
    sock.close()


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            if not self._forwarding.is_set():
                continue  # held open, never answered: the network is gone
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError as exc:
                logger.warning("proxy: cannot reach %s: %s", self.target, exc)
                _reset(client)
                continue
            with self._lock:
                self._sockets.append(upstream)
            threading.Thread(target=self._pump, args=(client, upstream), name="proxy-pump",
                             daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        while not self._closed:
            if not self._forwarding.is_set():
                self._forwarding.wait(0.1)  # blackholed: read nothing, send nothing
                continue
            try:
                readable, _, _ = select.select([a, b], [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        raise ConnectionError("closed")
                    peers[sock].sendall(data)
            except (OSError, ValueError, ConnectionError):
                for sock in (a, b):
                    sock.close()
                return

    def _reset_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _reset(sock)

    def blackhole(self) -> None:
        self._forwarding.clear()

    def restore(self) -> None:
        self._reset_all()
        self._forwarding.set()

    def cut(self) -> None:
        self._reset_all()

    def close(self) -> None:
        self._closed = True
        self._forwarding.set()
        self._listener.close()
        self._reset_all()
