"""The deployment's certificate authority and the broker's server certificate.

Made with the ``openssl`` command-line tool (no extra Python dependency):

* ``ca.key`` / ``ca.crt``: an EC P-256 CA, 10 years. ``ca.crt`` goes into every
  device's boot bundle; ``ca.key`` stays with central (mode 0600).
* ``server.key`` / ``server.crt``: the broker's certificate, signed by the CA,
  with every host name and IP address devices use in ``subjectAltName``
  (clients verify the host name).

Existing files are kept: regenerating the broker config never changes the CA
that devices in the field already trust.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

CA_DAYS = 3650
SERVER_DAYS = 825


class TlsError(RuntimeError):
    """A certificate could not be made (openssl missing or failing)."""


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def _openssl(*args: str) -> None:
    tool = shutil.which("openssl")
    if tool is None:
        raise TlsError("openssl not found: install the 'openssl' package")
    result = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TlsError(f"openssl {args[0]} failed: {result.stderr.strip()[-500:]}")


def _san(names: list[str]) -> str:
    parts = []
    for name in dict.fromkeys(names):
        try:
            ipaddress.ip_address(name)
        except ValueError:
            parts.append(f"DNS:{name}")
        else:
            parts.append(f"IP:{name}")
    return ",".join(parts)


def ensure_ca(directory: Path, name: str = "alarmlink deployment CA") -> tuple[Path, Path]:
    """``(ca.crt, ca.key)`` in ``directory``; made once, then reused."""
    cert, key = directory / "ca.crt", directory / "ca.key"
    if cert.exists() and key.exists():
        return cert, key
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", str(CA_DAYS), "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    logger.info("made deployment CA %s", cert)
    return cert, key


def ensure_server_cert(directory: Path, hostnames: list[str], *, stem: str = "server",
                       ca_directory: Path | None = None) -> TlsFiles:
    """CA plus a server certificate for ``hostnames`` (DNS names or IPs) in ``directory``.

    The certificate is ``<stem>.crt`` / ``<stem>.key`` (``server`` for the broker,
    ``console`` for central's HTTPS); the CA is in ``ca_directory`` (default
    ``directory``). A certificate whose names differ from ``hostnames`` is replaced.
    """
    if not hostnames:
        raise TlsError("the server certificate needs at least one host name or IP")
    ca_cert, ca_key = ensure_ca(ca_directory or directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    names_file = directory / f"{stem}.names"
    wanted = "\n".join(hostnames)
    if cert.exists() and key.exists() and names_file.exists() \
            and names_file.read_text() == wanted:
        return TlsFiles(ca_cert, ca_key, cert, key)
    with tempfile.TemporaryDirectory(prefix="alarmlink-tls-") as tmp:
        csr, ext = Path(tmp) / "server.csr", Path(tmp) / "ext.cnf"
        ext.write_text(f"subjectAltName={_san(hostnames)}\nextendedKeyUsage=serverAuth\n"
                       "basicConstraints=critical,CA:FALSE\n"
                       "keyUsage=critical,digitalSignature,keyEncipherment\n")
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={hostnames[0]}")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-out", str(cert), "-days", str(SERVER_DAYS),
                 "-extfile", str(ext))
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    names_file.write_text(wanted)
    serial = (ca_directory or directory) / "ca.srl"
    if serial.exists():
        os.chmod(serial, 0o600)
    logger.info("made %s certificate for %s", stem, ", ".join(hostnames))
    return TlsFiles(ca_cert, ca_key, cert, key)


def render_tls_listener(port: int, bind: str, files: TlsFiles) -> str:
    """A mosquitto.conf listener block for TLS (server auth; devices log in with passwords,
    and the client id is the user name: ``use_username_as_clientid``)."""
    return "\n".join([
        f"listener {port} {bind}",
        "use_username_as_clientid true",
        f"cafile {files.ca_cert}",
        f"certfile {files.server_cert}",
        f"keyfile {files.server_key}",
        "tls_version tlsv1.2",
        "require_certificate false",
        "",
    ])
