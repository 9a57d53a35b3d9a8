"""Why a broker cannot be reached, in words an installer can act on.

paho reports a failed connection without its cause. :func:`diagnose` looks once, the
way the connection would go: the name, the TCP port, then TLS (or, for a plain
``mqtt://`` URL, whether the port speaks TLS and wants ``mqtts://``). Used on the
retries that are logged, never on every attempt.
"""

from __future__ import annotations

import logging
import socket
import ssl
from pathlib import Path

logger = logging.getLogger(__name__)


def diagnose(host: str, port: int, *, tls: bool, ca_file: Path | None = None,
             timeout: float = 2.0) -> str | None:
    """One line naming the cause and the fix; None when the broker looks reachable."""
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return (f"the name {host!r} does not resolve: check the host in broker.url (a typo? "
                "DNS or /etc/hosts?)")
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return (f"nothing listens on {host}:{port} (connection refused): is the broker "
                "running, and is the port in broker.url right?")
    except TimeoutError:
        return (f"no answer from {host}:{port} within {timeout:g} s: a firewall, or the "
                "wrong address in broker.url")
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc.strerror or exc}"
    with sock:
        return _tls_check(sock, host, port, tls=tls, ca_file=ca_file)


def _tls_check(sock: socket.socket, host: str, port: int, *, tls: bool,
               ca_file: Path | None) -> str | None:
    if tls:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        try:
            with context.wrap_socket(sock, server_hostname=host):
                return None
        except ssl.SSLCertVerificationError as exc:
            if "match" in str(exc.verify_message).lower() or "hostname" in str(exc).lower():
                return (f"the broker's certificate is not valid for the name {host!r} "
                        f"({exc.verify_message}): use a name it lists in broker.url, or make "
                        "the certificate with that name (--hostname of `central init` / "
                        "`central broker-config`)")
            return (f"the broker's certificate is not trusted ({exc.verify_message}): check "
                    "broker.ca_file (the deployment's ca.crt)")
        except (ssl.SSLError, OSError) as exc:
            return (f"TLS handshake with {host}:{port} failed ({exc}): is this the broker's "
                    "TLS port? A plain listener needs mqtt://")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock.settimeout(2.0)
    try:
        with context.wrap_socket(sock, server_hostname=host):
            pass
    except (ssl.SSLError, OSError):
        return None  # not TLS: a plain MQTT port, as the URL says
    return (f"{host}:{port} is a TLS port: use mqtts://{host}:{port} in broker.url (and "
            "broker.ca_file)")
