"""Central's configuration: one TOML file validated by pydantic.

Example (every key is optional; these are the defaults unless noted)::

    data_dir = "/var/lib/alarmlink"        # db defaults to data_dir/central.db
    db = "/var/lib/alarmlink/central.db"
    # database_url = "postgresql://alarmlink@db.example:5432/alarmlink"  # instead of db
    # node_name = "central-1"                # default: the host name
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
    max_body_bytes = 65536                 # larger request bodies get 413
    allowed_hosts = ["localhost", "127.0.0.1", "::1"]   # default: these + host
    tls_cert = "tls/console.crt"           # HTTPS (both or neither; default: plain HTTP)
    tls_key = "tls/console.key"            # 0600; never logged

    [health]                               # see central/health.py
    probe_interval_s = 2
    max_write_age_s = 10
    max_ingest_lag_s = 30
    min_free_mb = 16

    [limits]                               # see central/limits_config.py
    non_alarm_rate_per_s = 20              # per device; the excess is dropped, counted
    dead_letters_per_device = 1000         # and pruned after dead_letter_max_age_days

    [audit]                                # see central/audit_config.py
    retention_days = 365                   # at least 180
    timezone = "Asia/Shanghai"

    [commissioning]                        # see central/commissioning_config.py
    default_duration_s = 3600
    max_duration_s = 14400

    [receiver]                             # SIA DC-09 over IP, off by default;
    tcp_port = 9000                        # see central/receiver/config.py
    udp_port = 9000
    keys_file = "/etc/alarmlink/dc09-keys.toml"

    [auth]                                 # see central/auth/config.py
    idle_timeout_s = 7200                  # the console's WebSocket keepalive counts as use
    session_lifetime_s = 43200             # one shift
    lockout_failures = 5                   # wrong passwords within lockout_window_s ...
    lockout_window_s = 900
    lockout_s = 900                        # ... lock the account this long
    source_failures = 20                   # failed logins from one address within
    source_window_s = 600                  # source_window_s -> 429 for that address
    cookie_secure = "auto"                 # Secure cookie over https; or true / false
    allowed_origins = []                   # extra origins allowed to POST
    totp_roles = []                        # roles that must give a TOTP code

The broker password is looked up in this order: ``password``, ``password_file``,
then ``$CREDENTIALS_DIRECTORY/mqtt-password`` (systemd ``LoadCredential=``).
Secrets are :class:`~pydantic.SecretStr` and never logged.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.config_base import (
    ConfigError,
    StrictModel,
    describe_errors,
    resolve_config_path,
)
from central.audit_config import AuditConfig
from central.auth.config import AuthConfig
from central.commissioning_config import CommissioningConfig
from central.console_config import ConsoleConfig
from central.escalation.config import EscalationConfig, ModemConfig
from central.health_config import HealthConfig
from central.limits_config import LimitsConfig
from central.receiver.config import ReceiverConfig
from central.snapshot_config import SnapshotsConfig
from central.supervision_config import SupervisionConfig

logger = logging.getLogger(__name__)

#: Central's own defaults for ``[broker]`` keys it leaves out.
#: Central's reconnect backoff, on both its connections: about 1 s between attempts (a
#: device's grows to 30 s). Central is one client, and after a broker restart every alarm
#: waits in its session until central is back.
LINK_DEFAULTS: dict[str, object] = {"reconnect_max_s": 1}
BROKER_DEFAULTS: dict[str, object] = {
    "url": "mqtt://127.0.0.1:1883",
    "username": "central",
    "session_expiry_s": 7 * 24 * 3600,
    **LINK_DEFAULTS,
}


#: Largest request body by default. The API takes small JSON bodies only: an action
#: (officer id <= 64 chars, note <= 2000 chars, i.e. at most ~12 KiB of JSON even with
#: every character escaped) and a command (name, small args, ttl); 64 KiB leaves room.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: Host names every central answers to (the Host header), besides ``http.host``.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class HttpConfig(StrictModel):
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8080, ge=0, le=65535, description="HTTP port (0 picks a free one).")
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, ge=1024, le=64 * 1024 * 1024,
        description="Largest request body accepted; a larger one is refused with 413 "
                    "before it is read (the API takes small JSON bodies only).")
    allowed_hosts: list[str] | None = Field(
        None, min_length=1,
        description="Host names (or IPs) browsers may use to reach central (checked against "
                    "the Host header; '*.example.org' allowed). Default: localhost, 127.0.0.1, "
                    "::1 and http.host unless it is 0.0.0.0 or ::. A station serving on a LAN "
                    "name or IP must list it here.")

    tls_cert: Path | None = Field(
        None, description="HTTPS: the console's certificate (PEM, chain included) as "
                          "`central init` issues it from the deployment CA. With tls_key set, "
                          "central serves HTTPS only (browsers allow the microphone only on "
                          "secure origins); unset, plain HTTP (the demo on localhost).")
    tls_key: Path | None = Field(
        None, description="HTTPS: the private key of tls_cert (PEM, unencrypted, mode 0600; "
                          "never logged).")

    @field_validator("tls_cert", "tls_key")
    @classmethod
    def _relative_tls(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return resolve_config_path(value, info)

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both for HTTPS, "
                             "or neither for plain HTTP")
        return self

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"

    def effective_allowed_hosts(self) -> list[str]:
        """``allowed_hosts`` as configured, else the loopback names plus ``host``."""
        if self.allowed_hosts is not None:
            return list(self.allowed_hosts)
        hosts = list(LOOPBACK_HOSTS)
        if self.host not in ("0.0.0.0", "::", "") and self.host not in hosts:
            hosts.append(self.host)
        return hosts


class CentralConfig(StrictModel):
    data_dir: Path = Field(Path("alarmlink-data"), validate_default=True,
                           description="Directory for central's data.")
    db: Path | None = Field(None, description="SQLite database file; default data_dir/central.db.")
    database_url: str | None = Field(
        None, description="PostgreSQL instead of the SQLite file: postgresql://USER@HOST:PORT/DB "
                          "(the password from PGPASSWORD or ~/.pgpass, never in this file). "
                          "Every central node of a city deployment names the same database; "
                          "see docs/operations.md.")
    node_name: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
        description="This node's name in /api/health and the logs (default: the host name).")
    share_group: str = Field(
        "central", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="On PostgreSQL: the MQTT 5 shared-subscription group the nodes take the "
                    "devices' messages through (each message goes to one node).")
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
    telemetry_broker: BrokerConfig | None = Field(
        None, description="Optional second MQTT account (its own user name, role central) "
        "for heartbeats, status, command results and snapshots. Events then have the "
        "[broker] connection to themselves, so an alarm never waits on the socket behind a "
        "burst of heartbeats. Unset: one connection carries everything.")
    mqtt_process: bool = Field(
        True, description="Hold the [broker] connection (events) in a process of its own, "
        "which only reads and sends (central/mqtt_process.py): a flood is read at the "
        "broker's speed and an alarm behind it reaches central's queue, where alarms go "
        "first, without waiting for the writer. false: one process (uses one core less).")
    http: HttpConfig = Field(default_factory=lambda: HttpConfig(), description="HTTP server.")
    audit: AuditConfig = Field(default_factory=lambda: AuditConfig(),
                               description="Audit trail retention and time zone "
                                           "(central/audit_config.py).")
    commissioning: CommissioningConfig = Field(
        default_factory=lambda: CommissioningConfig(),
        description="Walk-test durations (central/commissioning_config.py).")
    limits: LimitsConfig = Field(
        default_factory=lambda: LimitsConfig(),
        description="What one device may cost central: budgets for non-alarm traffic and "
                    "dead letters, dead-letter retention (central/limits_config.py).")
    health: HealthConfig = Field(
        default_factory=lambda: HealthConfig(),
        description="When /healthz reports central unhealthy (central/health_config.py).")
    console: ConsoleConfig = Field(default_factory=lambda: ConsoleConfig(),
                                   description="Duty console: acknowledgement target, map "
                                               "tiles (central/console_config.py).")
    escalation: EscalationConfig = Field(
        default_factory=lambda: EscalationConfig(),
        description="Escalation policies, channels and 119/120 (central/escalation/config.py).")
    modem: ModemConfig = Field(default_factory=lambda: ModemConfig(),
                               description="Central's GSM modem for SMS and voice calls.")
    receiver: ReceiverConfig = Field(
        default_factory=lambda: ReceiverConfig(),
        description="The SIA DC-09 IP receiver for panels without a Pi "
                    "(central/receiver/config.py); off unless a port is given.")
    auth: AuthConfig = Field(default_factory=lambda: AuthConfig(),
                             description="Sessions, lockout, CSRF origins, second factor "
                                         "(central/auth/config.py).")

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

    @field_validator("telemetry_broker", mode="before")
    @classmethod
    def _telemetry_defaults(cls, value: object) -> object:
        if isinstance(value, dict):
            return {**LINK_DEFAULTS, **value}
        return value

    @field_validator("database_url")
    @classmethod
    def _postgresql_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (or leave it out for the SQLite "
                             "file in db / data_dir)")
        if value is not None and ":" in value.split("://", 1)[1].split("@", 1)[0] \
                and "@" in value:
            raise ValueError("put no password in the URL: set PGPASSWORD or use ~/.pgpass")
        return value

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.data_dir / "central.db"

    @property
    def db_target(self) -> str | Path:
        """What central opens: the PostgreSQL URL when set, else the SQLite file."""
        return self.database_url if self.database_url is not None else self.db_path

    @property
    def on_postgresql(self) -> bool:
        return self.database_url is not None


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
