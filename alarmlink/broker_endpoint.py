"""How a client reaches the broker: the one ``[broker]`` model of every config.

One place for the URL rules (``mqtt://host:port`` or ``mqtts://host:port``), the
derived host, port and TLS flag, the topic-prefix check and the password lookup
(``password``, then ``password_file``, then systemd's ``LoadCredential=``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alarmlink.config_base import ConfigError, StrictModel, resolve_config_path
from alarmlink.wire import DEFAULT_PREFIX, Topics

logger = logging.getLogger(__name__)

#: Password files already warned about (once per file and process, not per reconnect).
_WARNED: set[str] = set()


def warn_if_readable(path: Path) -> None:
    """Warn once when a password file can be read by other users of this machine."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o004 and str(path) not in _WARNED:
        _WARNED.add(str(path))
        logger.warning("password file %s is readable by every user of this machine: run "
                       "`chmod 600 %s`", path, path)

#: File name of the MQTT password in systemd's credential directory.
CREDENTIAL_NAME = "mqtt-password"

#: ``(username, client_id)`` pairs already warned about, so each is logged once.
_warned_client_ids: set[tuple[str, str]] = set()


def check_url(value: str) -> str:
    """Validate a broker URL; raises ValueError naming the problem."""
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError("must look like mqtt://host:port (or mqtts://host:port for TLS)")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from None
    if parts.path not in ("", "/") or parts.query or parts.username or parts.password:
        raise ValueError("give only scheme, host and port; credentials go in "
                         "username and password_file")
    return value


def check_prefix(value: str) -> str:
    Topics(value)  # raises ValueError with the reason
    return value


def credential_file() -> Path | None:
    """``$CREDENTIALS_DIRECTORY/mqtt-password`` when running under systemd with it loaded."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if not creds:
        return None
    path = Path(creds) / CREDENTIAL_NAME
    return path if path.exists() else None


def read_password_file(path: Path) -> str:
    """The first line of a password file. Raises OSError, or ValueError when empty."""
    text = path.read_text(encoding="utf-8")
    secret = text.splitlines()[0].strip() if text.strip() else ""
    if not secret:
        raise ValueError(f"{path} is empty")
    return secret


class BrokerEndpoint:
    """Mixin for a pydantic model with a ``url`` field: host, port and TLS from it."""

    url: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


class BrokerConfig(BrokerEndpoint, StrictModel):
    """``[broker]``: how a client (a venue agent, central, a simulator) reaches the broker.

    The agent and central share this model; central fills in its own defaults
    (user ``central``, client id ``alarmlink-central``, a week of queued messages).
    Relative ``password_file``/``ca_file`` paths are resolved against ``base_dir``
    from the validation context (the config file's folder).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="Broker URL: mqtt://host:port, or mqtts://host:port for TLS.")
    username: str = Field(min_length=1, max_length=64,
                          description="MQTT user name; the broker's ACL expects the device id.")
    password: SecretStr | None = Field(None, description="MQTT password inline (prefer a file).")
    password_file: Path | None = Field(
        None, description="File holding the MQTT password (first line; mode 0600).")
    ca_file: Path | None = Field(None, description="CA bundle for mqtts://; system CAs if unset.")
    protocol: Literal["mqttv5", "mqttv311"] = Field(
        "mqttv5", description="MQTT 5 (Mosquitto), or 3.1.1 for brokers without MQTT 5.")
    topic_prefix: str = Field(DEFAULT_PREFIX, description="Topic prefix shared by all clients.")
    client_id: str | None = Field(
        None, min_length=1, max_length=64,
        description="Ignored: the broker binds the client id to the account "
                    "(use_username_as_clientid), so the client id is always the user name. "
                    "Kept so older config files still load; a different value is warned "
                    "about once.")
    keepalive_s: int = Field(30, ge=5, le=600,
                             description="MQTT keepalive; the broker sends the last will after "
                                         "about 1.5 times this without traffic.")
    session_expiry_s: int = Field(
        24 * 3600, ge=0, le=30 * 24 * 3600,
        description="How long the broker keeps queued messages for this client while offline.")
    reconnect_min_s: int = Field(1, ge=1, le=300, description="First reconnect delay.")
    reconnect_max_s: int = Field(30, ge=1, le=3600, description="Longest reconnect delay.")

    @field_validator("password_file", "ca_file")
    @classmethod
    def _relative_paths(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return resolve_config_path(value, info)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        return check_prefix(value)

    @model_validator(mode="after")
    def _check(self) -> BrokerConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set password or password_file, not both")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(f"reconnect_min_s ({self.reconnect_min_s}) is above "
                             f"reconnect_max_s ({self.reconnect_max_s})")
        if self.ca_file is not None and not self.tls:
            raise ValueError("ca_file is set but the url is not mqtts://")
        return self

    @property
    def effective_client_id(self) -> str:
        """The MQTT client id: always the user name.

        alarmlink's broker (``use_username_as_clientid true`` on every password listener)
        replaces whatever client id a client sends with its user name, so one account
        cannot take over another's session; the broker keeps the persistent session
        under the user name. A configured ``client_id`` that differs is logged once.
        """
        if self.client_id is not None and self.client_id != self.username:
            key = (self.username, self.client_id)
            if key not in _warned_client_ids:
                _warned_client_ids.add(key)
                logger.warning("broker.client_id %r ignored: the client id is the user name "
                               "%r (the broker binds it to the account); remove client_id",
                               self.client_id, self.username)
        return self.username

    def password_source(self) -> str:
        """Where the password comes from, for messages (never the password itself)."""
        if self.password is not None:
            return "broker.password (inline)"
        if self.password_file is not None:
            return f"broker.password_file {self.password_file}"
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        if creds:
            return f"systemd credential {Path(creds) / CREDENTIAL_NAME}"
        return "none"

    def password_or_none(self) -> SecretStr | None:
        """The password from ``password``, ``password_file`` or the systemd credential.

        None when none is configured; :class:`ConfigError` when the file cannot be read.
        """
        if self.password is not None:
            return self.password
        path = self.password_file or credential_file()
        if path is None:
            return None
        try:
            secret = SecretStr(read_password_file(path))
            warn_if_readable(path)
            return secret
        except OSError as exc:
            raise ConfigError([f"broker.password_file: cannot read {path}: {exc.strerror}"]) \
                from None
        except ValueError as exc:
            raise ConfigError([f"broker.password_file: {exc}"]) from None

    def resolve_password(self) -> SecretStr:
        """Like :meth:`password_or_none`, but a missing password is a :class:`ConfigError`."""
        password = self.password_or_none()
        if password is None:
            raise ConfigError(["broker: no password: set password_file (or password), or run "
                               f"under systemd with LoadCredential={CREDENTIAL_NAME}:..."])
        return password
