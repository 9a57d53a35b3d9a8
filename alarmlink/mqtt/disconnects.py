"""Why a connection failed or dropped, and when to try again: :class:`ConnectionLoss`.

The part of :class:`alarmlink.mqtt.MqttClient` that handles paho's ``on_connect_fail`` and
``on_disconnect``: the next reconnect wait (bounded exponential backoff with jitter), a
one-line cause for a broker that cannot be reached (``diagnose``), a session taken over by
another client with the same account, and a connection that keeps dropping soon after it
was made (a takeover loop).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.mqtt.diagnose import diagnose
from alarmlink.mqtt.reasons import SESSION_TAKEN_OVER, Backoff, should_log

logger = logging.getLogger("alarmlink.mqtt.client")  # the client's log lines, as before

#: Connections lost this soon after connecting, FLAP_COUNT times within this window: a
#: takeover loop (two clients with one account), named as such in the log and last_error.
FLAP_WINDOW_S = 60.0
FLAP_COUNT = 3


class ConnectionLoss:
    """paho's connect-failure and disconnect callbacks for :class:`MqttClient` (a mixin:
    the attributes below are the client's)."""

    config: BrokerConfig
    name: str
    paho: mqtt.Client
    backoff: Backoff
    next_retry_s: float | None
    last_error: str | None
    takeovers: int
    on_disconnected: Callable[[], None] | None
    _cause: str | None
    _connected_at: float
    _drops: list[float]
    _refused_now: bool
    _failures: int
    _stopping: bool
    _first_attempt: bool
    _connected: threading.Event
    _subscribed: threading.Event

    def _call(self, hook: Callable[[], None] | None, what: str) -> None:
        if hook is None:
            return
        try:
            hook()
        except Exception:
            logger.exception("%s: %s handler failed", self.name, what)

    def _retry_later(self) -> None:
        """Set the wait before paho's next attempt. reconnect_delay_set() also resets
        paho's own doubling, so paho's next wait is exactly the one set here."""
        if self._stopping:
            return
        delay = self.backoff.next_delay()
        self.next_retry_s = delay
        # After a failed *first* connect paho waits twice (in its first-connect loop, then
        # again in its main loop, doubling capped at the max): set half the wait for each.
        step = delay / 2 if self._first_attempt else delay
        self._first_attempt = False
        # paho accepts float seconds; its annotation says int
        self.paho.reconnect_delay_set(step, step)  # type: ignore[arg-type]

    def _diagnose(self) -> str:
        cause = diagnose(self.config.host, self.config.port, tls=self.config.tls,
                         ca_file=self.config.ca_file)
        return cause or "the broker closed the connection before answering"

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._connected.clear()
        self._failures += 1
        self._retry_later()
        if should_log(self._failures) or self._cause is None:
            self._cause = self._diagnose()
        self.last_error = f"cannot reach broker {self.config.url}: {self._cause}"
        if should_log(self._failures):
            logger.warning("%s: cannot reach broker %s: %s (attempt %d); retrying in %.1f s",
                           self.name, self.config.url, self._cause, self._failures,
                           self.next_retry_s or 0)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any,
                       reason_code: ReasonCode, _properties: Any) -> None:
        was_connected = self._connected.is_set()
        refused, self._refused_now = self._refused_now, False
        self._connected.clear()
        self._subscribed.clear()
        self._retry_later()
        if not (was_connected or refused or self._stopping):
            # closed before any CONNACK: e.g. mqtt:// to a TLS port, or TLS to a plain one
            self._failures += 1
            if should_log(self._failures) or self._cause is None:
                self._cause = self._diagnose()
            self.last_error = f"cannot connect to broker {self.config.url}: {self._cause}"
            if should_log(self._failures):
                logger.warning("%s: cannot connect to broker %s: %s (attempt %d); retrying "
                               "in %.1f s", self.name, self.config.url, self._cause,
                               self._failures, self.next_retry_s or 0)
        if self._stopping:
            logger.info("%s: disconnected from %s", self.name, self.config.url)
        elif getattr(reason_code, "value", None) == SESSION_TAKEN_OVER:
            self.takeovers += 1
            self.last_error = (f"session taken over {self.takeovers} time(s): another client "
                               f"logs in as {self.config.username} (the broker binds the "
                               "client id to the account); stop the second one")
            logger.error("%s: session taken over (MQTT reason 0x8E): another connection logged "
                         "in to %s as %s — a duplicate device or stolen credentials; "
                         "reconnecting in %.1f s", self.name, self.config.url,
                         self.config.username, self.next_retry_s or 0)
        elif was_connected and self._short_lived():
            self.last_error = (f"connection dropped {len(self._drops)} times within "
                               f"{FLAP_WINDOW_S:g} s, each soon after connecting: most likely "
                               f"another client logs in as {self.config.username} (the broker "
                               "binds the client id to the account and drops the older one); "
                               "stop the second central or device")
            logger.error("%s: %s", self.name, self.last_error)
        elif was_connected:
            logger.warning("%s: connection to %s lost (%s); reconnecting in %.1f s",
                           self.name, self.config.url, reason_code, self.next_retry_s or 0)
        if was_connected:
            self._call(self.on_disconnected, "on_disconnected")

    def _short_lived(self) -> bool:
        """Count a connection that lasted under FLAP_WINDOW_S; True when they repeat."""
        now = time.monotonic()
        if now - self._connected_at > FLAP_WINDOW_S:
            return False
        self._drops = [t for t in self._drops if now - t <= FLAP_WINDOW_S] + [now]
        return len(self._drops) >= FLAP_COUNT
