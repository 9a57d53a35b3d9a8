"""HTTPS for the console: check ``[http] tls_cert`` / ``tls_key`` before uvicorn starts.

uvicorn would otherwise fail deep inside ``ssl`` with a traceback; here a missing,
unreadable or mismatched file gives one line naming the file and the fix. The key's
content is never logged or printed.
"""

from __future__ import annotations

import logging
import ssl
import stat
from pathlib import Path

from alarmlink.config_base import ConfigError
from central.config import HttpConfig

logger = logging.getLogger(__name__)

FIX = ("run `alarmlink central init DIR --https` again to issue it, or remove "
       "tls_cert/tls_key from [http] for plain HTTP")


def _readable(path: Path, what: str) -> None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except FileNotFoundError:
        raise ConfigError(f"[http] {what} {path}: no such file; {FIX}") from None
    except PermissionError:
        raise ConfigError(f"[http] {what} {path}: not readable by this user; give central's "
                          "user read access (chown; the key stays mode 0600)") from None
    except IsADirectoryError:
        raise ConfigError(f"[http] {what} {path}: is a directory; name the PEM file") from None
    except OSError as exc:
        raise ConfigError(f"[http] {what} {path}: cannot read: {exc.strerror}") from None


def tls_options(http: HttpConfig) -> tuple[str | None, str | None]:
    """uvicorn's ``(ssl_certfile, ssl_keyfile)`` for ``http`` (None, None: plain HTTP).

    Raises :class:`ConfigError` (one line: file, cause, fix) when a file is missing,
    unreadable, not PEM, or the key does not match the certificate.
    """
    if http.tls_cert is None or http.tls_key is None:
        return None, None
    _readable(http.tls_cert, "tls_cert")
    _readable(http.tls_key, "tls_key")
    mode = stat.S_IMODE(http.tls_key.stat().st_mode)
    if mode & 0o077:
        logger.warning("[http] tls_key %s is mode %o: make it 0600 (chmod 600 %s)",
                       http.tls_key, mode, http.tls_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(http.tls_cert, http.tls_key)
    except ssl.SSLError as exc:
        raise ConfigError(f"[http] tls_cert {http.tls_cert} / tls_key {http.tls_key}: not a "
                          f"matching PEM certificate and key ({exc.reason or 'ssl error'}); "
                          f"{FIX}") from None
    return str(http.tls_cert), str(http.tls_key)
