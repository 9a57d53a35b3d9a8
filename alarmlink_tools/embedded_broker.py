"""The demo's fallback broker: amqtt, in a background thread, when Mosquitto is absent.

Limits, stated plainly (seen with amqtt 0.12): it speaks MQTT 3.1.1 only; queued
messages of anonymous persistent sessions are lost; retained messages can reach
subscribers of other filters. So every demo client gets credentials, the clients
speak 3.1.1 to it, and nothing but ``alarmlink demo`` ever uses it. Production and
the test suite use Mosquitto (:mod:`alarmlink.broker`).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from alarmlink.broker import BrokerError, BrokerUser, free_port
from alarmlink.wire import DEFAULT_PREFIX

logger = logging.getLogger(__name__)


#: Free ports tried when the one picked was taken before the broker bound it.
PORT_ATTEMPTS = 5


def _port_taken(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it: amqtt wraps it) is "address already in use"."""
    while error is not None:
        if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
            return True
        error = error.__cause__  # type: ignore[assignment]
    return False


class EmbeddedBroker:
    """amqtt broker on 127.0.0.1:<free port>, with a password file and topic ACLs."""

    protocol = "mqttv311"

    def __init__(self, users: list[BrokerUser], *, port: int | None = None,
                 prefix: str = DEFAULT_PREFIX) -> None:
        self._auto_port = not port
        self.port = port or free_port()
        self.users = users
        self.prefix = prefix
        self._dir = Path(tempfile.mkdtemp(prefix="alarmlink-amqtt-"))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    host = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        from pwdlib import PasswordHash  # amqtt's own dependency
        from pwdlib.hashers.argon2 import Argon2Hasher

        hasher = PasswordHash((Argon2Hasher(),))
        passwd = self._dir / "passwd"
        passwd.write_text("".join(f"{u.username}:{hasher.hash(u.password)}\n" for u in self.users))
        os.chmod(passwd, 0o600)
        dev = f"{self.prefix}/dev"
        sub_acl: dict[str, list[str]] = {}
        pub_acl: dict[str, list[str]] = {}
        for u in self.users:
            if u.role == "central":
                sub_acl[u.username] = [f"{self.prefix}/#"]
                pub_acl[u.username] = [f"{self.prefix}/#"]
            else:
                # as Mosquitto's ACL (alarmlink.broker.render_acl)
                sub_acl[u.username] = [f"{dev}/{u.username}/{leaf}"
                                       for leaf in ("receipt", "cmd", "rtc")]
                pub_acl[u.username] = [f"{dev}/{u.username}/#"]
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(passwd)},
                "amqtt.plugins.topic_checking.TopicAccessControlListPlugin": {
                    "acl": sub_acl, "publish_acl": pub_acl,
                },
            },
        }

    def start(self, timeout: float = 15.0) -> None:
        """Start listening. A free port picked here can be taken by another program before
        the broker binds it: then another free port is tried (a given port is not)."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self._ready.clear()
            self._error = None
            self._thread = threading.Thread(target=self._run, name="amqtt", daemon=True)
            self._thread.start()
            if not self._ready.wait(timeout):
                raise BrokerError("embedded amqtt broker did not start")
            if self._error is None:
                logger.info("embedded amqtt broker listening on %s", self.url)
                return
            if not (self._auto_port and _port_taken(self._error)) or attempt == PORT_ATTEMPTS:
                raise BrokerError(f"embedded amqtt broker failed: {self._error}")
            logger.info("port %d was taken meanwhile; trying another", self.port)
            self.port = free_port()

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._broker = Broker(self._config(), loop=loop)
            loop.run_until_complete(self._broker.start())
        except Exception as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._broker = None
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()

    def stop(self) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or not loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
        try:
            future.result(timeout=10)
        except (TimeoutError, RuntimeError) as exc:
            logger.warning("embedded broker shutdown: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def close(self) -> None:
        self.stop()
