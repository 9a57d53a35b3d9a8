"""Test kit for provisioning: a real Mosquitto run from the GENERATED broker config
(`central.credentials.write_broker_config`: plain listener for central, TLS for devices),
and a small TLS-capable MQTT client that records everything."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from helpers import wait_for
from sqlite_utils import Database

from alarmlink.broker import free_port, mosquitto_binary
from alarmlink.mqtt import paho_client
from central.credentials import BrokerSettings, write_broker_config


@dataclass
class UrlOnly:
    """What CentralProcess needs of a broker: its URL."""

    url: str


class GeneratedBroker:
    """mosquitto -c DIR/mosquitto.conf, where DIR came from write_broker_config."""

    def __init__(self, db: Database, directory: Path) -> None:
        self.db = db
        self.dir = directory
        self.settings = BrokerSettings(plain_port=free_port(), tls_port=free_port(),
                                       tls_bind="127.0.0.1")
        self.conf = write_broker_config(db, directory, self.settings)
        self.log = directory / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def plain_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.settings.plain_port}"

    @property
    def tls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.settings.tls_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> GeneratedBroker:
        binary = mosquitto_binary()
        assert binary, "mosquitto is not installed"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([binary, "-c", str(self.conf)], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        for port in (self.settings.plain_port, self.settings.tls_port):
            wait_for(lambda p=port: self._listening(p), what=f"mosquitto on port {port}")
        return self

    def _listening(self, port: int) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    def reload(self) -> None:
        """Regenerate from the db and SIGHUP, as `provision revoke --broker-dir` does."""
        write_broker_config(self.db, self.dir, self.settings)
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class TlsClient:
    """A paho MQTT 5 client over TLS (or plain) recording connects, drops and messages."""

    def __init__(self, broker: GeneratedBroker, username: str, password: str, *,
                 tls: bool = True, client_id: str | None = None) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.connack: list[mqtt.ReasonCode] = []
        self.disconnects: list[mqtt.ReasonCode] = []
        self.granted: dict[int, list[mqtt.ReasonCode]] = {}
        self.lock = threading.Lock()
        self.client = paho_client(client_id=client_id or f"t-{username}-{time.monotonic_ns()}")
        self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=str(broker.dir / "ca.crt"),
                                cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.append(rc)
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnects.append(rc)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.granted.__setitem__(mid, rcs)
        port = broker.settings.tls_port if tls else broker.settings.plain_port
        self.client.reconnect_delay_set(60, 120)  # no quiet automatic reconnects in tests
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(lambda: self.connack or self.disconnects, what=f"CONNACK for {username}")

    @property
    def accepted(self) -> bool:
        return bool(self.connack) and not self.connack[0].is_failure

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload))

    def subscribe(self, topic: str) -> list[mqtt.ReasonCode]:
        _, mid = self.client.subscribe(topic, qos=1)
        return wait_for(lambda: self.granted.get(mid), what=f"SUBACK {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
