"""Helpers for the edge agent's tests: configs and a fake clock. (The recording stand-ins
for central are the shared ``central_stub`` / ``central_observer`` fixtures.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alarmlink import wire
from alarmlink.broker import free_port
from edge_agent.config import AgentConfig, validate_config

TOPICS = wire.Topics()
ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware_configs"

BUTTON = {"type": "button", "zone": "gate-button", "pin": 17}
NC_SMOKE = {"type": "detector", "zone": "dorm-smoke", "pin": 22, "contact": "normally_closed",
            "supervision_pin": 23, "confirm_ms": 200}
LOOP = {"type": "loop", "zone": "cabinet", "pin": 24, "confirm_ms": 100}


def config_dict(tmp_path: Path, *, device_id: str = "school-01", url: str | None = None,
                inputs: list[dict[str, Any]] | None = None, **top: Any) -> dict[str, Any]:
    """A valid config as a dict; ``url`` None points at a closed port (no broker)."""
    broker: dict[str, Any] = {
        "url": url or f"mqtt://127.0.0.1:{free_port()}",
        "username": device_id,
        "password": f"{device_id}-pw",
        "reconnect_min_s": 1,
        "reconnect_max_s": 2,
    }
    broker.update(top.pop("broker", {}))
    data: dict[str, Any] = {
        "device_id": device_id,
        "venue": "Test School",
        "state_dir": str(tmp_path / "state"),
        "broker": broker,
        "inputs": [dict(BUTTON)] if inputs is None else inputs,
    }
    data.update(top)
    return data


def make_config(tmp_path: Path, **kwargs: Any) -> AgentConfig:
    return validate_config(config_dict(tmp_path, **kwargs), source="test.toml",
                           base_dir=tmp_path)


class FakeClock:
    """Monotonic seconds that only move when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now
