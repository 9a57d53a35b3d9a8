"""How a client reaches the broker: settings shared by the agent's and central's configs.

One place for the URL rules (``mqtt://host:port`` or ``mqtts://host:port``), the
derived host, port and TLS flag, the topic-prefix check and the password lookup
(``password``, then ``password_file``, then systemd's ``LoadCredential=``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from alarmlink.wire import Topics

#: File name of the MQTT password in systemd's credential directory.
CREDENTIAL_NAME = "mqtt-password"


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
