"""The DC-09 key file: one AES key per account, a secret file.

Shared by central's IP receiver (``[receiver] keys_file``) and the agent's serial/IP
adapter links (``[[serials]] key_file``, protocol ``sia-dc09``)::

    # /etc/alarmlink/dc09-keys.toml  (owner the service's user, mode 0600)
    "1234" = "00112233445566778899AABBCCDDEEFF"        # AES-128
    "5678" = "000102030405060708090A0B0C0D0E0F1011121314151617"   # AES-192

A file readable by group or others is refused (like ssh refuses a private key), and a
key's text never reaches a log line or an error message.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from alarmlink.codecs.dc09_crypto import parse_key
from alarmlink.secret_file import SecretFileError, read_private_text

logger = logging.getLogger(__name__)


class KeyFileError(ValueError):
    """A key file that cannot be used; ``str()`` says why and how to fix it."""


def load_keys(path: Path) -> dict[str, bytes]:
    """``{account (upper case): key bytes}`` from ``path``."""
    try:
        text = read_private_text(path, "DC-09 key file")
    except SecretFileError as exc:
        raise KeyFileError(str(exc)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KeyFileError(f"{path}: not valid TOML ({exc})") from None
    keys: dict[str, bytes] = {}
    for account, value in raw.items():
        if not isinstance(value, str):
            raise KeyFileError(f"{path}: account {account!r}: the key must be a string")
        try:
            keys[account.upper()] = parse_key(value)
        except ValueError as exc:  # the message names the forms, never the key
            raise KeyFileError(f"{path}: account {account!r}: {exc}") from None
    logger.info("DC-09 keys loaded for %d account(s) from %s", len(keys), path)
    return keys
