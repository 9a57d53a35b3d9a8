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
    topic_prefix = "alarmlink/v1"
    client_id = "alarmlink-central"
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
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from alarmlink.broker_endpoint import (
    BrokerEndpoint,
    check_prefix,
    check_url,
    credential_file,
    read_password_file,
)
from alarmlink.wire import DEFAULT_PREFIX
from central.snapshot_config import SnapshotsConfig
from central.supervision_config import SupervisionConfig

logger = logging.getLogger(__name__)



class ConfigError(ValueError):
    """A configuration file that cannot be used. ``str()`` names the file, key and reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrokerConfig(BrokerEndpoint, _Strict):
    url: str = Field("mqtt://127.0.0.1:1883",
                     description="Broker URL, mqtt://host:port or mqtts://host:port (TLS).")
    username: str | None = Field("central", description="MQTT user name of central.")
    password: SecretStr | None = Field(None, description="MQTT password (prefer password_file).")
    password_file: Path | None = Field(None, description="File holding the MQTT password.")
    ca_file: Path | None = Field(None, description="CA bundle for mqtts://; system CAs if unset.")
    protocol: Literal["mqttv5", "mqttv311"] = Field(
        "mqttv5", description="MQTT protocol version; 3.1.1 for brokers without MQTT 5.")
    topic_prefix: str = Field(DEFAULT_PREFIX, description="Topic prefix shared with the devices.")
    client_id: str = Field("alarmlink-central", min_length=1, max_length=64,
                           description="Fixed client id: the broker keeps the session under it.")
    session_expiry_s: int = Field(7 * 24 * 3600, ge=60,
                                  description="How long the broker queues messages for central.")
    keepalive_s: int = Field(30, ge=5, le=600, description="MQTT keepalive interval.")
    reconnect_min_s: int = Field(1, ge=1, description="First reconnect delay.")
    reconnect_max_s: int = Field(30, ge=1, description="Longest reconnect delay (backoff cap).")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        return check_prefix(value)

    def resolve_password(self) -> SecretStr | None:
        """The password from ``password``, ``password_file`` or the systemd credential."""
        if self.password is not None:
            return self.password
        path = self.password_file or credential_file()
        if path is None:
            return None
        try:
            return SecretStr(read_password_file(path))
        except OSError as exc:
            raise ConfigError(f"broker.password_file: cannot read {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(f"broker.password_file: {exc}") from None


class HttpConfig(_Strict):
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8080, ge=0, le=65535, description="HTTP port (0 picks a free one).")


class CentralConfig(_Strict):
    data_dir: Path = Field(Path("alarmlink-data"), description="Directory for central's data.")
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
    broker: BrokerConfig = Field(default_factory=lambda: BrokerConfig(),
                                 description="MQTT connection.")
    http: HttpConfig = Field(default_factory=lambda: HttpConfig(), description="HTTP server.")

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.data_dir / "central.db"


def load_config(path: Path) -> CentralConfig:
    """Read and validate a TOML config. Raises :class:`ConfigError` naming file and key."""
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = CentralConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: " + describe_errors(exc)) from None
    base = path.parent
    return config.model_copy(update=_relative_to(config, base))


def _relative_to(config: CentralConfig, base: Path) -> dict[str, object]:
    """Relative paths in a config file are relative to the file, not the working dir."""
    update: dict[str, object] = {}
    for key in ("data_dir", "db", "registry"):
        value = getattr(config, key)
        if value is not None and not value.is_absolute():
            update[key] = base / value
    broker_update: dict[str, object] = {}
    for key in ("password_file", "ca_file"):
        value = getattr(config.broker, key)
        if value is not None and not value.is_absolute():
            broker_update[key] = base / value
    if broker_update:
        update["broker"] = config.broker.model_copy(update=broker_update)
    return update


def describe_errors(exc: ValidationError) -> str:
    """``key.path: reason`` for each pydantic error, joined with ``; ``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)
