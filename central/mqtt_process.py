"""Central's MQTT connection in a process of its own (:class:`MqttProcess`).

The same surface as :class:`alarmlink.mqtt.MqttClient` as far as
:class:`central.mqtt_bridge.MqttBridge` uses it (subscribe, start, stop, publish, the
acknowledgement of a message, the connection's state), with the connection itself in a
child process (:mod:`central.mqtt_reader`). Why: central's one interpreter lock was shared
by paho's reading and the writer's ingest, so under a flood neither ran at full speed and
an alarm waited for the lock before it even reached the ingest queue.

The guarantees do not change:

* a PUBACK is sent only when the writer calls the message's acknowledgement, after its
  commit, and only on the connection the message arrived on (a reconnect, or a new
  child, makes it a no-op: the broker redelivers, ingest deduplicates);
* receipts and PUBACKs leave in the order they were asked for;
* if the child dies, central marks itself disconnected with the cause and starts a new
  one after :data:`RESTART_S`; if central dies, the child exits at once, acknowledging
  nothing more.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from paho.mqtt.enums import MQTTErrorCode

from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.logsetup import JsonFormatter
from alarmlink.mqtt.matching import FilterTable
from central.mqtt_reader import LinkState

logger = logging.getLogger(__name__)

#: Where the ``central`` package is (the child's ``PYTHONPATH``, whatever the parent's).
PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
#: Seconds before a child that died is started again.
RESTART_S = 1.0
#: A handler of :class:`RemoteMessage` (typed loosely: the bridge's handlers take either).
Handler = Callable[[Any], None]


@dataclass(slots=True)
class RemoteMessage:
    """A message the child read (what handlers use of paho's ``MQTTMessage``)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    #: (child incarnation, its connect count): the connection it arrived on.
    connection: tuple[int, int]


@dataclass(slots=True)
class PublishInfo:
    """What :meth:`MqttProcess.publish` returns (paho's ``MQTTMessageInfo.rc``)."""

    rc: MQTTErrorCode


def _no_ack() -> None:
    return None


class MqttProcess:
    """A long-running broker connection held by a child process (see the module)."""

    def __init__(self, config: BrokerConfig, *, name: str, clean: bool = False,
                 receive_maximum: int | None = None) -> None:
        self.config = config
        self.name = name
        self.clean = clean
        self.receive_maximum = receive_maximum
        self._filters: list[tuple[str, int]] = []
        self._matcher: FilterTable[Handler] = FilterTable()
        self._conn: Connection | None = None
        self._process: Any = None
        self._incarnation = 0
        self._base_count = 0
        self._state = LinkState()
        self._ready = threading.Event()
        self._outbox: list[tuple[Any, ...]] = []
        self._out_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._running = False

    # --- state (as MqttClient) -------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._state.connected

    @property
    def ready(self) -> bool:
        return self._state.ready

    @property
    def last_error(self) -> str | None:
        return self._state.last_error

    @property
    def connect_count(self) -> int:
        """Connections since start, over every child (it only grows)."""
        return self._base_count + self._state.connect_count

    @property
    def session_present(self) -> bool | None:
        return self._state.session_present

    def wait_ready(self, timeout: float) -> bool:
        self._ready.wait(timeout)
        return self.ready

    # --- setup, publishing, shutdown -------------------------------------------------

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        if self._running:
            raise RuntimeError("subscribe() before start()")
        self._filters.append((topic_filter, qos))
        self._matcher.add(topic_filter, handler)

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._spawn()
        threading.Thread(target=self._send_loop, daemon=True,
                         name=f"{self.name}-to-mqtt").start()

    def _spawn(self) -> None:
        """Start ``python -m central.mqtt_reader`` with one end of a socket pair (not
        multiprocessing's spawn, which would import central's whole command line in the
        child and run an unguarded ``__main__`` again); its settings go as the first
        message."""
        root = logging.getLogger()
        fmt = "json" if any(isinstance(h.formatter, JsonFormatter)
                            for h in root.handlers) else "text"
        mine, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT,
                                                          env.get("PYTHONPATH")]))
        self._incarnation += 1
        process = subprocess.Popen(
            [sys.executable, "-m", "central.mqtt_reader", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        conn = Connection(mine.detach())
        conn.send((self.config, self.name, self.clean, self.receive_maximum,
                   self._filters, root.level, fmt))
        self._conn, self._process = conn, process
        threading.Thread(target=self._receive_loop, args=(conn, self._incarnation),
                         daemon=True, name=f"{self.name}-from-mqtt").start()

    def publish(self, topic: str, payload: bytes, *, qos: int = 1,
                retain: bool = False) -> PublishInfo:
        """Queue a publish for the child (in order with the acknowledgements). While
        disconnected the child's paho keeps QoS 1 messages for the next connect."""
        self._queue(("p", topic, payload, qos, retain))
        return PublishInfo(MQTTErrorCode.MQTT_ERR_SUCCESS if self.connected
                           else MQTTErrorCode.MQTT_ERR_NO_CONN)

    def acker(self, message: RemoteMessage) -> Callable[[], None]:
        """A callable that asks the child for ``message``'s PUBACK, at most once, and only
        while the child that read it is the current one."""
        if message.qos == 0:
            return _no_ack
        incarnation, connection = message.connection
        token = [message.mid]

        def ack() -> None:
            try:
                mid = token.pop()
            except IndexError:  # acknowledged already
                return
            if incarnation == self._incarnation:
                self._queue(("a", mid, connection))
        return ack

    def _queue(self, item: tuple[Any, ...]) -> None:
        with self._out_lock:
            self._outbox.append(item)
            first = len(self._outbox) == 1
        if first:
            self._wake.set()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the child to disconnect normally (the broker keeps the session), then end."""
        if not self._running:
            return False
        self._running = False
        self._wake.set()
        conn, process = self._conn, self._process
        if conn is not None:
            self._flush(conn)
            try:
                conn.send(("stop",))
            except OSError:
                pass
            self._stopped.wait(timeout)
        if process is not None:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._state = replace(self._state, connected=False, ready=False)
        return True

    # --- threads -----------------------------------------------------------------------

    def _flush(self, conn: Connection) -> None:
        with self._out_lock:
            items, self._outbox = self._outbox, []
        if items:
            try:
                conn.send(("c", items))
            except OSError:  # the child died: its messages are redelivered anyway
                logger.debug("%s: %d command(s) not sent: child gone", self.name, len(items))

    def _send_loop(self) -> None:
        while self._running:
            self._wake.wait()
            self._wake.clear()
            conn = self._conn
            if conn is not None and self._running:
                self._flush(conn)

    def _receive_loop(self, conn: Connection, incarnation: int) -> None:
        while True:
            try:
                message = conn.recv()
            except (OSError, EOFError):
                break
            kind = message[0]
            if kind == "m":
                self._dispatch(message[1], incarnation)
            elif kind == "s":
                self._set_state(message[1])
            elif kind == "stopped":
                self._stopped.set()
                return
        if self._running:
            self._child_died(incarnation)

    def _dispatch(self, batch: list[tuple[str, bytes, int, int, int]], incarnation: int) -> None:
        for topic, payload, mid, qos, connection in batch:
            message = RemoteMessage(topic, payload, mid, qos, (incarnation, connection))
            for handler in self._matcher.match(topic):
                try:
                    handler(message)
                except Exception:  # a handler bug must not stop the reading
                    logger.exception("%s: handling a message on %s failed", self.name, topic)

    def _set_state(self, state: LinkState) -> None:
        self._state = state
        if state.ready:
            self._ready.set()
        else:
            self._ready.clear()

    def _child_died(self, incarnation: int) -> None:
        code = self._process.wait() if self._process is not None else None
        cause = f"central's MQTT process ended (exit code {code}); starting it again"
        logger.error("%s: %s", self.name, cause)
        self._base_count += self._state.connect_count
        self._set_state(LinkState(last_error=cause))
        time.sleep(RESTART_S)  # not a synchronisation: a crashing child must not spin
        if self._running and incarnation == self._incarnation:
            self._spawn()
