"""Central's configuration: one TOML file validated by pydantic.

Example (every key is optional; these are the defaults unless noted)::

    data_dir = "/var/lib/alarmlink"        # db defaults to data_dir/central.db
    db = "/var/lib/alarmlink/central.db"
    registry = "/etc/alarmlink/registry.toml"   # loaded (upserted) at start; default none
    clock_skew_threshold_s = 30
    heartbeat_timeout_s = 90               # unused: see [supervision]

    [supervision]                          # see central/supervision_config.py
    check_interval_s = 1
    default_class = "standard"
    [supervision.classes.fast]
    bound_s = 20
    heartbeat_s = 5
    silence_s = 11
    grace_s = 5

    [broker]
    url = "mqtt://127.0.0.1:1883"          # mqtts:// for TLS
    username = "central"
    password_file = "/etc/alarmlink/mqtt-password"  # or password = "..."
    protocol = "mqttv5"                    # or "mqttv311"
    topic_prefix = "alarmlink/v1"                # the client id is always the username
    session_expiry_s = 604800

    [http]
    host = "127.0.0.1"
    port = 8080

The broker password is looked up in this order: ``password``, ``password_file``,
then ``$CREDENTIALS_DIRECTORY/mqtt-password`` (systemd ``LoadCredential=``).
Secrets are :class:`~pydantic.SecretStr` and never logged.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.config_base import (
    ConfigError,
    StrictModel,
    describe_errors,
    resolve_config_path,
)
from central.snapshot_config import SnapshotsConfig
from central.supervision_config import SupervisionConfig

logger = logging.getLogger(__name__)

#: Central's own defaults for ``[broker]`` keys it leaves out.
BROKER_DEFAULTS: dict[str, object] = {
    "url": "mqtt://127.0.0.1:1883",
    "username": "central",
    "session_expiry_s": 7 * 24 * 3600,
}


class HttpConfig(StrictModel):
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8080, ge=0, le=65535, description="HTTP port (0 picks a free one).")


class CentralConfig(StrictModel):
    data_dir: Path = Field(Path("alarmlink-data"), validate_default=True,
                           description="Directory for central's data.")
    db: Path | None = Field(None, description="SQLite database file; default data_dir/central.db.")
    registry: Path | None = Field(None, description="Registry TOML upserted at start.")
    clock_skew_threshold_s: float = Field(
        30.0, gt=0, description="Flag events whose device clock is off by more than this.")
    heartbeat_timeout_s: float = Field(
        90.0, gt=0, description="Unused since [supervision] device classes (kept so old "
                                "config files still load).")
    supervision: SupervisionConfig = Field(
        default_factory=lambda: SupervisionConfig(),
        description="Device classes and offline bounds (central/supervision_config.py).")
    snapshots: SnapshotsConfig = Field(
        default_factory=lambda: SnapshotsConfig(),
        description="Snapshot retention and live-view limits (central/snapshot_config.py).")
    broker: BrokerConfig = Field(
        default_factory=lambda: BrokerConfig.model_validate(BROKER_DEFAULTS),
        description="MQTT connection; keys left out take central's defaults (BROKER_DEFAULTS).")
    http: HttpConfig = Field(default_factory=lambda: HttpConfig(), description="HTTP server.")

    @field_validator("data_dir", "db", "registry")
    @classmethod
    def _relative_paths(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return resolve_config_path(value, info)

    @field_validator("broker", mode="before")
    @classmethod
    def _broker_defaults(cls, value: object) -> object:
        if isinstance(value, dict):
            return {**BROKER_DEFAULTS, **value}
        return value

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.data_dir / "central.db"


def load_config(path: Path) -> CentralConfig:
    """Read and validate a TOML config. Raises :class:`ConfigError` naming file and key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        # relative paths (here and in [broker]) are relative to the file, not the cwd
        return CentralConfig.model_validate(raw, context={"base_dir": path.parent})
    except ValidationError as exc:
        raise ConfigError([f"{path}: {line}"
                           for line in describe_errors(exc, CentralConfig, data=raw)]) from None
