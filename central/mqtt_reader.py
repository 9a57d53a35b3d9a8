"""The child half of :mod:`central.mqtt_process`: central's MQTT connection in a process.

This process holds the broker connection (:class:`alarmlink.mqtt.MqttClient`, manual
acknowledgement) and does nothing else: it reads messages and hands them to central in
batches over a socket pair, and it sends what central asks, in order: publishes (receipts,
commands) and PUBACKs (after central's commit). Reading the socket here, on a core of
its own, no longer competes for the interpreter lock with central's writer, so a flood
is read as fast as the broker sends it and an alarm behind it reaches central's queue,
where alarms go first, without waiting for the writer.

Messages to central (``conn.send``):
    ``("m", [(topic, payload, mid, qos, connection), ...])``  messages, in arrival order;
    ``("s", LinkState)``  the connection's state, whenever it changes.
From central:
    ``("c", [("a", mid, connection) | ("p", topic, payload, qos, retain), ...])``;
    ``("stop",)``: disconnect normally (the broker keeps the session), answer
    ``("stopped",)`` and exit.

When central goes away (the socket pair closes) this process exits at once without a PUBACK or a
DISCONNECT: what central had not committed stays with the broker, which redelivers it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import paho.mqtt.client as mqtt

from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.logsetup import configure
from alarmlink.mqtt import MqttClient
from alarmlink.mqtt.batched_io import BatchedIoClient
from central.interpreter import tune_for_latency

logger = logging.getLogger(__name__)

#: Most messages in one hand-over to central.
MAX_HANDOVER = 2000
#: Seconds between state checks (subscriptions granted, errors) when nothing happens.
STATE_EVERY_S = 0.1


@dataclass(frozen=True)
class LinkState:
    """The connection's state as the child reports it (:class:`MqttClient`'s properties)."""

    connected: bool = False
    ready: bool = False
    last_error: str | None = None
    connect_count: int = 0
    session_present: bool | None = None

    @classmethod
    def of(cls, client: MqttClient) -> LinkState:
        return cls(client.connected, client.ready, client.last_error, client.connect_count,
                   client.session_present)


class Reader:
    """The connection, the batch being gathered, and the pipe to central."""

    def __init__(self, conn: Connection, config: BrokerConfig, name: str, clean: bool,
                 receive_maximum: int | None, filters: list[tuple[str, int]]) -> None:
        self.conn = conn
        self.client = MqttClient(config, name=name, clean=clean, manual_ack=True,
                                 receive_maximum=receive_maximum)
        for topic_filter, qos in filters:
            self.client.subscribe(topic_filter, self._on_message, qos)
        self._batch: list[tuple[str, bytes, int, int, int]] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._state: LinkState | None = None
        self._stopping = threading.Event()
        paho = self.client.paho
        if not isinstance(paho, BatchedIoClient):  # MqttClient's factory always makes one
            raise TypeError("central's MQTT process needs BatchedIoClient's after_read hook")
        paho.after_read = self._after_read  # paho's thread hands each read over itself

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        item = (message.topic, bytes(message.payload), message.mid, message.qos,
                self.client.connect_count)
        with self._lock:
            self._batch.append(item)

    def _flush(self) -> None:
        """Send what was gathered (under the send lock: a state change is sent either
        before the batch or after it, never inside)."""
        with self._send_lock:
            while True:
                with self._lock:
                    batch, self._batch = self._batch[:MAX_HANDOVER], self._batch[MAX_HANDOVER:]
                if not batch:
                    return
                self._send_locked(("m", batch))

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            self._send_locked(message)

    def _send_locked(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except (OSError, EOFError):  # central is gone
            os._exit(0)

    def _after_read(self) -> None:
        """paho's thread, after each read: that read's messages go to central at once
        (a lone alarm without waking another thread; a flood in reads of hundreds)."""
        self._report_state()
        self._flush()

    def _report_state(self) -> None:
        state = LinkState.of(self.client)
        if state != self._state:  # before the messages of a new connection
            with self._send_lock:
                if state != self._state:
                    self._state = state
                    self._send_locked(("s", state))

    def watch_state(self) -> None:
        """Thread: state changes between reads (the subscriptions granted, a connection
        lost or refused); paho's thread reports them too, before each read's messages."""
        while not self._stopping.wait(STATE_EVERY_S):
            self._report_state()

    def serve(self) -> None:
        """Main thread: central's commands, until ``stop`` or the pipe ends."""
        threading.Thread(target=self.watch_state, daemon=True, name="mqtt-state").start()
        self.client.start()
        while True:
            try:
                command = self.conn.recv()
            except (OSError, EOFError):  # central is gone: leave everything to the broker
                os._exit(0)
            if command[0] == "stop":
                self._stopping.set()
                self.client.stop()
                self._send(("stopped",))
                return
            for item in command[1]:
                if item[0] == "a":
                    _kind, mid, connection = item
                    self.client.ack_on(connection, mid)
                else:
                    _kind, topic, payload, qos, retain = item
                    self.client.publish(topic, payload, qos=qos, retain=retain)


def reader_main(conn: Connection, config: BrokerConfig, name: str, clean: bool,
                receive_maximum: int | None, filters: list[tuple[str, int]],
                log_level: int, log_format: str) -> None:
    """Run the reader (``python -m central.mqtt_reader FD``: see :func:`main`).

    SIGINT and SIGTERM are ignored: a Ctrl-C in a terminal or systemd's stop reaches the
    whole process group, and this process must end through central (a normal DISCONNECT
    after central's last commit) or, if central is gone, on its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    configure(log_level, log_format)
    reader = Reader(conn, config, name, clean, receive_maximum, filters)
    tune_for_latency()
    reader.serve()


def main() -> None:
    """``python -m central.mqtt_reader FD``: FD is this process's end of the socket pair;
    the first message on it is :func:`reader_main`'s settings."""
    conn = Connection(int(sys.argv[1]))
    try:
        settings = conn.recv()
    except (OSError, EOFError):  # central went away before we started
        os._exit(0)
    reader_main(conn, *settings)


if __name__ == "__main__":
    # through the importable module, so what is pickled to central (LinkState) is
    # central.mqtt_reader.LinkState, not __main__.LinkState
    from central.mqtt_reader import main as _main
    _main()
