"""End-to-end harness: real Mosquitto, central as a real `alarmlink central serve`
process over a real SQLite file, and the real agent code on gpiozero mock pins."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from helpers import wait_for

from alarmlink.broker import BrokerUser, MosquittoBroker, free_port
from edge_agent.config import AgentConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "central" / "demo_registry.toml"
FIRMWARE = ROOT / "firmware_configs"
ALARMLINK = [sys.executable, "-m", "alarmlink_tools.cli"]


def private_file(path: Path, text: str) -> Path:
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


class CentralProcess:
    """`alarmlink central serve` in a child process; stop() and start() keep the db."""

    def __init__(self, workdir: Path, broker: MosquittoBroker, central: BrokerUser, *,
                 registry: Path = REGISTRY) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.db_path = workdir / "central.db"
        password = private_file(workdir / "mqtt-password", central.password)
        self.config_path = workdir / "central.toml"
        self.config_path.write_text(
            f'data_dir = "{workdir}"\nregistry = "{registry}"\n'
            f'[broker]\nurl = "{broker.url}"\nusername = "{central.username}"\n'
            f'password_file = "{password}"\n'
            f'[http]\nhost = "127.0.0.1"\nport = {self.port}\n'
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "central.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 30.0) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([*ALARMLINK, "central", "serve", "--config",
                                          str(self.config_path)], stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
        wait_for(self._healthy, timeout=timeout, interval=0.1, what="central /healthz")

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"central exited: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Read central's real database file from a separate connection."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


def venue_config(name: str, broker: MosquittoBroker, state_dir: Path,
                 **extra: object) -> AgentConfig:
    """firmware_configs/<name>.toml pointed at the test broker, password "<id>-pw"."""
    base = load_config(FIRMWARE / f"{name}.toml")
    overrides: dict[str, object] = {
        "broker.url": broker.url,
        "broker.password": f"{base.device_id}-pw",
        "state_dir": str(state_dir),
        "resend_timeout_s": 2,
    }
    overrides.update(extra)
    return base.with_overrides(overrides)


def button_only(name: str, broker: MosquittoBroker, state_dir: Path,
                **extra: object) -> AgentConfig:
    """A venue config with only its one-key button: unwired normally-closed inputs on
    mock pins read as open and would (rightly) raise alarms of their own."""
    button = venue_config(name, broker, state_dir).inputs[0]
    assert button.type == "button"
    return venue_config(name, broker, state_dir, inputs=[button.model_dump(mode="json")],
                        **extra)


def write_agent_config(config: AgentConfig, path: Path) -> Path:
    """Write ``config`` as TOML for a child `alarmlink agent run` / `sim venue` process."""
    import tomli_w

    data = config.model_dump(mode="json", exclude_none=True)
    if config.broker.password is not None:
        data["broker"]["password"] = config.broker.password.get_secret_value()
    return private_file(path, tomli_w.dumps(data))
