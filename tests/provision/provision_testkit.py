"""Test kit for provisioning: a real Mosquitto run from the GENERATED broker config
(`central.credentials.write_broker_config`: plain listener for central, TLS for devices).
Its clients are the shared ``mqtt_test_client`` (tests/fixtures/mqtt.py), over TLS."""

from __future__ import annotations

import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers import wait_for
from sqlite_utils import Database

from alarmlink.broker import free_port, mosquitto_binary
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
