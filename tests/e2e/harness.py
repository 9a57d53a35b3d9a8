"""End-to-end harness: venue configs for the real agent code (on gpiozero mock pins)
pointed at a test broker. The broker and central themselves are the shared fixtures in
tests/fixtures/ (fresh_mosquitto, central_process)."""

from __future__ import annotations

from pathlib import Path

from fixtures.central import ALARMLINK, private_file

from alarmlink.broker import MosquittoBroker
from edge_agent.config import AgentConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware_configs"
__all__ = ["ALARMLINK", "button_only", "venue_config", "write_agent_config"]


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
