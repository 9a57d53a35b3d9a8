"""MQTT accounts at central, and the broker configuration generated from them.

Central never keeps a plaintext password: ``mqtt_accounts`` holds the hash in
Mosquitto's own format (``$7$...``, PBKDF2-SHA512), made by ``mosquitto_passwd``
in a private temporary file. The broker's password file is regenerated from
this table; a revoked account is simply left out of it.

``alarmlink central broker-config --out DIR`` writes, into ``DIR``::

    mosquitto.conf   a plain listener for central (loopback) + a TLS listener for devices
    passwd           every active account, hashed (0600)
    acl              central: the whole prefix; a device: only its own topics (0600)
    ca.crt ca.key    the deployment CA (key 0600; ca.crt goes into boot bundles)
    server.crt/.key  the broker's certificate (key 0600)
    broker.json      the settings, so provisioning and revocation can regenerate

After regeneration the broker is reloaded (SIGHUP): new accounts can log in,
and Mosquitto 2 re-checks every connected client against the new password
file and disconnects one whose account is gone (see tests/provision).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from alarmlink.broker import (
    BrokerError,
    BrokerUser,
    grant_broker_access,
    render_acl,
    render_config,
)
from alarmlink.tls import ensure_server_cert, render_tls_listener
from alarmlink.wire import DEFAULT_PREFIX, utcnow
from central.db import iso, query_one, write_tx

logger = logging.getLogger(__name__)

SETTINGS_FILE = "broker.json"


def hash_password(username: str, password: str) -> str:
    """The Mosquitto hash of ``password`` (the part after ``username:`` in a password file)."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise BrokerError("mosquitto_passwd not found: install the 'mosquitto' package")
    with tempfile.TemporaryDirectory(prefix="alarmlink-pw-") as tmp:
        path = Path(tmp) / "passwd"
        path.touch(mode=0o600)
        # -b takes the password as an argument of our own short-lived child process.
        subprocess.run([tool, "-b", str(path), username, password], check=True,
                       capture_output=True)
        line = path.read_text().strip()
    name, _, hashed = line.partition(":")
    if name != username or not hashed.startswith("$"):
        raise BrokerError(f"mosquitto_passwd wrote an unexpected line for {username!r}")
    return hashed


def set_password(db: Database, username: str, password: str, *, role: str = "device") -> int:
    """Store (or rotate) an account's hash; clears a revocation. Returns the generation."""
    now = iso(utcnow())
    hashed = hash_password(username, password)
    with write_tx(db):
        row = query_one(db, "SELECT generation FROM mqtt_accounts WHERE username = ?",
                        [username])
        generation = 1 if row is None else int(row["generation"]) + 1
        db.execute(
            "INSERT INTO mqtt_accounts (username, role, device_id, password_hash, generation, "
            "created_at, rotated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO "
            "UPDATE SET password_hash = excluded.password_hash, generation = excluded.generation,"
            " rotated_at = excluded.rotated_at, revoked_at = NULL, revoked_by = NULL",
            [username, role, username if role == "device" else None, hashed, generation, now,
             now])
    logger.info("MQTT account %s (%s): credentials generation %d", username, role, generation)
    return generation


def revoke(db: Database, username: str, actor: str) -> bool:
    """Mark an account revoked; False if it does not exist or is already revoked."""
    with write_tx(db):
        cur = db.execute("UPDATE mqtt_accounts SET revoked_at = ?, revoked_by = ? "
                         "WHERE username = ? AND revoked_at IS NULL",
                         [iso(utcnow()), actor, username])
    done = cur.rowcount > 0
    if done:
        logger.warning("MQTT account %s revoked by %s", username, actor)
    return done


def account(db: Database, username: str) -> dict[str, Any] | None:
    return query_one(db, "SELECT username, role, generation, created_at, rotated_at, "
                         "revoked_at, revoked_by FROM mqtt_accounts WHERE username = ?",
                     [username])


def active_accounts(db: Database) -> list[tuple[str, str, str]]:
    """``(username, role, hash)`` of every account that is not revoked."""
    return [(r["username"], r["role"], r["password_hash"]) for r in db.query(
        "SELECT username, role, password_hash FROM mqtt_accounts WHERE revoked_at IS NULL "
        "ORDER BY username")]


#: Where ``alarmlink central broker-run`` notes the pid of the mosquitto it runs.
PID_FILE = "mosquitto.pid"


@dataclass
class BrokerSettings:
    """What ``broker-config`` was asked for; kept in ``broker.json`` beside the files."""

    plain_port: int = 1883
    plain_bind: str = "127.0.0.1"
    tls_port: int = 8883
    tls_bind: str = "0.0.0.0"
    hostnames: list[str] = field(default_factory=lambda: ["localhost", "127.0.0.1"])
    data_dir: str = ""
    prefix: str = DEFAULT_PREFIX

    @classmethod
    def load(cls, directory: Path) -> BrokerSettings:
        path = directory / SETTINGS_FILE
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise BrokerError(f"{path} not found: run `alarmlink central broker-config` "
                              "first") from None


def _private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)  # atomic: the broker never reads a half-written file


def write_broker_config(db: Database, out: Path, settings: BrokerSettings) -> Path:
    """Write every broker file into ``out`` from ``mqtt_accounts``; returns mosquitto.conf."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    data_dir = Path(settings.data_dir) if settings.data_dir else out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    tls = ensure_server_cert(out, settings.hostnames)
    accounts = active_accounts(db)
    if not any(role == "central" for _, role, _ in accounts):
        logger.warning("no central MQTT account: central will not be able to connect "
                       "(give --central-password-file)")
    _private(out / "passwd", "".join(f"{user}:{hashed}\n" for user, _, hashed in accounts))
    users = [BrokerUser(user, "", role) for user, role, _ in accounts]
    _private(out / "acl", render_acl(users, settings.prefix))
    conf = render_config(port=settings.plain_port, data_dir=data_dir,
                         password_file=out / "passwd", acl_file=out / "acl",
                         bind=settings.plain_bind)
    conf += "\n# devices: TLS only\n" + render_tls_listener(settings.tls_port,
                                                           settings.tls_bind, tls)
    (out / "mosquitto.conf").write_text(conf)
    _private(out / SETTINGS_FILE, json.dumps(asdict(settings), indent=2) + "\n")
    hint = grant_broker_access(data_dir=data_dir,
                               readable=[out / "passwd", out / "acl", tls.server_key])
    if hint is not None:
        logger.warning("Mosquitto's files: %s", hint)
    logger.info("broker config in %s: %d accounts", out, len(accounts))
    return out / "mosquitto.conf"


def reload_broker(*, pid: int | None = None, command: str | None = None) -> str:
    """SIGHUP the broker (``pid``) or run ``command`` (e.g. ``systemctl reload mosquitto``)."""
    if pid is not None:
        os.kill(pid, signal.SIGHUP)
        return f"sent SIGHUP to mosquitto (pid {pid})"
    if command:
        subprocess.run(shlex.split(command), check=True)
        return f"ran {command!r}"
    return "broker not reloaded (give --broker-pid or --reload-command)"


def running_broker(broker_dir: Path) -> int | None:
    """The pid of a live mosquitto started by ``central broker-run`` on ``broker_dir``."""
    try:
        pid = int((broker_dir / PID_FILE).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"mosquitto" in cmdline else None


def regenerate_and_reload(db: Database, broker_dir: Path | None, *, pid: int | None = None,
                          command: str | None = None) -> str:
    """Rewrite the broker files in ``broker_dir`` (if given) and reload the broker
    (``pid``, ``command``, or the one ``central broker-run`` started there)."""
    if broker_dir is None:
        return "broker files not regenerated (give --broker-dir)"
    write_broker_config(db, broker_dir, BrokerSettings.load(broker_dir))
    if pid is None and not command:
        pid = running_broker(broker_dir)
    return reload_broker(pid=pid, command=command)
