"""The long-running MQTT connection of the agent and central (:class:`MqttClient`).

* persistent session (MQTT 5 ``clean_start=False`` + Session Expiry Interval, 3.1.1
  ``clean_session=False``) unless ``clean`` or ``session_expiry_s = 0``;
* only a CONNACK with a success code counts as connected; a refused connect is logged
  with a one-line cause and never marks the client connected;
* reconnects forever with bounded exponential backoff and jitter (``reconnect_min_s`` ..
  ``reconnect_max_s``), also when the broker is down at the first connect;
* per-topic-filter handlers, subscribed on every (re)connect, SUBACK checked: a refused
  subscription is logged as an error, kept in ``refused`` and ``last_error``, and
  ``ready`` stays false;
* optional :class:`Availability`: retained ``online`` on every connect, ``offline`` as
  the last will, ``stopped`` on a clean stop;
* a handler or hook that raises is logged and never kills paho's network thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.mqtt.disconnects import ConnectionLoss
from alarmlink.mqtt.factory import connect_options, make_client
from alarmlink.mqtt.matching import FilterTable
from alarmlink.mqtt.reasons import Backoff, check_suback, connect_cause, should_log

logger = logging.getLogger(__name__)

#: MQTT 5 subscription option: retained messages only when the subscription is new.
SEND_RETAINED_IF_NEW = SubscribeOptions.RETAIN_SEND_IF_NEW_SUB

#: Called with each message whose topic matches the handler's filter (paho's thread).
Handler = Callable[[mqtt.MQTTMessage], None]


@dataclass(frozen=True)
class Availability:
    """Retained status messages on ``topic``; payloads are built when sent."""

    topic: str
    online: Callable[[], bytes]
    offline: Callable[[], bytes]
    stopped: Callable[[], bytes] | None = None
    qos: int = 1


class MqttClient(ConnectionLoss):
    """A long-running connection: reconnects, resubscribes and checks every SUBACK.

    Register handlers with :meth:`subscribe` before :meth:`start`. Thread safe for
    :meth:`publish`. Hooks and handlers run on paho's network thread.
    """

    def __init__(self, config: BrokerConfig, *, client_id: str | None = None,
                 name: str | None = None, clean: bool = False,
                 require_password: bool = False, availability: Availability | None = None,
                 on_connected: Callable[[], None] | None = None,
                 on_disconnected: Callable[[], None] | None = None,
                 backoff: Backoff | None = None, manual_ack: bool = False,
                 receive_maximum: int | None = None) -> None:
        self.config = config
        self.client_id = client_id or config.effective_client_id
        #: How log lines name this connection (a device id, "central").
        self.name = name or self.client_id
        self.clean = clean
        self.availability = availability
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        #: Why the last connect or subscription failed; None after an accepted connect.
        self.last_error: str | None = None
        self._cause: str | None = None
        self._connected_at = 0.0
        self._drops: list[float] = []
        self._refused_now = False
        self.connect_count = 0
        #: Times the broker disconnected us with "session taken over" (0x8E).
        self.takeovers = 0
        self.session_present: bool | None = None
        self.backoff = backoff or Backoff(config.reconnect_min_s, config.reconnect_max_s)
        #: The wait before the next reconnect attempt, as last chosen.
        self.next_retry_s: float | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._lock = threading.Lock()
        self._handlers: dict[str, tuple[int, Handler]] = {}
        self._matcher: FilterTable[Handler] = FilterTable()
        #: (mid, [(filter, qos)]) of this connection's SUBSCRIBE until its SUBACK.
        self._suback: tuple[int, list[tuple[str, int]]] | None = None
        self._refused: dict[str, str] = {}
        self._failures = 0
        self._started = False
        self._stopping = False
        self._first_attempt = False
        self.paho = make_client(config, client_id=self.client_id, clean=clean,
                                require_password=require_password, batched_io=True)
        self.paho.suppress_exceptions = True  # a bug in a callback must not end the loop
        #: With manual acknowledgement a QoS 1 message is PUBACKed only by :meth:`acker`'s
        #: callable (central: after its commit), never when the handler returns.
        self.manual_ack = manual_ack
        self.receive_maximum = receive_maximum
        self.paho.manual_ack_set(manual_ack)
        self.paho.on_connect = self._on_connect
        self.paho.on_connect_fail = self._on_connect_fail
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_subscribe = self._on_subscribe
        self.paho.on_message = self._on_message

    # --- state -----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True only between an accepted CONNACK and the next disconnect."""
        return self._connected.is_set()

    @property
    def subscribed(self) -> bool:
        """The broker granted every subscription of the current connection."""
        return self._subscribed.is_set()

    @property
    def ready(self) -> bool:
        """Connected and every subscription granted."""
        return self.connected and self.subscribed

    @property
    def refused(self) -> dict[str, str]:
        """Topic filter -> cause, for subscriptions the broker refused on this connection."""
        with self._lock:
            return dict(self._refused)

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_ready(self, timeout: float) -> bool:
        """Block until :attr:`ready` (or ``timeout`` seconds); returns :attr:`ready`."""
        self._subscribed.wait(timeout)
        return self.ready

    # --- setup, publishing, shutdown -------------------------------------------------

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        """Route messages matching ``topic_filter`` to ``handler``; subscribed on every connect."""
        if self._started:
            raise RuntimeError("subscribe() before start()")
        self._handlers[topic_filter] = (qos, handler)
        self._matcher.add(topic_filter, handler)

    def start(self) -> None:
        """Connect in the background; returns at once (the broker may be down)."""
        if self._started:
            return
        self._started = True
        self._stopping = False
        self._first_attempt = True
        if self.availability is not None:
            self.paho.will_set(self.availability.topic, self.availability.offline(),
                               qos=self.availability.qos, retain=True)
        self.paho.connect_async(self.config.host, self.config.port, self.config.keepalive_s,
                                **connect_options(self.config, self.clean,
                                                  self.receive_maximum))
        self.paho.loop_start()
        logger.info("%s: connecting to %s as %s (client id %s, %s)", self.name,
                    self.config.url, self.config.username, self.client_id, self.config.protocol)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1,
                retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Hand a message to paho. While disconnected paho keeps QoS 1 messages and sends
        them after the next connect (``rc`` is then ``MQTT_ERR_NO_CONN``)."""
        return self.paho.publish(topic, payload, qos=qos, retain=retain)

    def acker(self, message: mqtt.MQTTMessage) -> Callable[[], None]:
        """A callable that sends ``message``'s PUBACK, from any thread, at most once.

        Only on the connection the message arrived on: after a reconnect the packet id may
        name another message, and the broker redelivers the unacknowledged one anyway.
        """
        mid, qos = message.mid, message.qos
        if qos == 0 or not self.manual_ack:  # nothing to acknowledge (heartbeats: QoS 0)
            return _no_ack
        generation = self.connect_count
        token = [mid]  # list.pop() is atomic: the first caller takes it, later ones return

        def ack() -> None:
            if not token:
                return
            try:
                token.pop()
            except IndexError:  # another thread took it just now
                return
            self.ack_on(generation, mid, qos)
        return ack

    def ack_on(self, generation: int, mid: int, qos: int = 1) -> None:
        """Send the PUBACK of message ``mid`` if this is still connection ``generation``
        (:attr:`connect_count` when it arrived); after a reconnect the packet id may name
        another message, and the broker redelivers the unacknowledged one anyway."""
        if self.connect_count != generation or not self.connected:
            logger.debug("%s: PUBACK for mid %d skipped: the connection changed; the "
                         "broker redelivers it", self.name, mid)
            return
        rc = self.paho.ack(mid, qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            logger.warning("%s: PUBACK for mid %d not sent: %s", self.name, mid,
                           mqtt.error_string(rc))

    def stop(self, timeout: float = 5.0) -> bool:
        """Publish ``stopped`` (if configured) and wait for it, then disconnect.

        A normal DISCONNECT: the broker drops the last will and keeps a persistent
        session. Returns True if the ``stopped`` status was confirmed by the broker.
        """
        if not self._started:
            return False
        self._stopping = True
        sent = False
        avail = self.availability
        if avail is not None and avail.stopped is not None:
            if self.connected:
                info = self.publish(avail.topic, avail.stopped(), qos=avail.qos, retain=True)
                try:
                    info.wait_for_publish(timeout)
                    sent = info.is_published()
                except (RuntimeError, ValueError) as exc:
                    logger.warning("%s: could not publish 'stopped': %s", self.name, exc)
            if not sent:
                logger.warning("%s: stopping without confirming the 'stopped' status; the "
                               "broker's last will or a missed heartbeat will tell instead",
                               self.name)
        self.paho.disconnect()
        self.paho.loop_stop()
        self._connected.clear()
        self._subscribed.clear()
        self._started = False
        return sent

    # --- paho callbacks (paho's network thread) -------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: mqtt.ConnectFlags,
                    reason_code: ReasonCode, _properties: Any) -> None:
        self._first_attempt = False
        if reason_code.is_failure:
            self._connected.clear()
            self._subscribed.clear()
            self._failures += 1
            cause = connect_cause(reason_code)
            self._refused_now = True
            self.last_error = f"broker refused the connection: {cause}"
            if should_log(self._failures):
                logger.error("%s: broker %s refused the connection: %s (user %s, attempt %d)",
                             self.name, self.config.url, cause, self.config.username,
                             self._failures)
            return  # paho's on_disconnect follows and schedules the retry
        self._failures = 0
        self._cause = None
        self._connected_at = time.monotonic()
        self.backoff.reset()
        self.last_error = None
        self.connect_count += 1
        self.session_present = bool(flags.session_present)
        self._subscribe_all(client)
        if self.availability is not None:
            client.publish(self.availability.topic, self.availability.online(),
                           qos=self.availability.qos, retain=True)
        self._connected.set()
        logger.info("%s: connected to %s (session present: %s)", self.name, self.config.url,
                    self.session_present)
        self._call(self.on_connected, "on_connected")

    def _subscribe_all(self, client: mqtt.Client) -> None:
        with self._lock:
            self._refused = {}
            wanted = [(flt, qos) for flt, (qos, _handler) in self._handlers.items()]
            self._suback = None
            if not wanted:
                self._subscribed.set()
                return
            # MQTT 5: retained messages only for a subscription the broker did not keep in
            # the session. A persistent session (central's) that reconnects is not sent
            # every device's retained status again (10,000 after each broker restart: work
            # at central, and a backlog ahead of the fresh ones); while it was away they
            # were queued in the session anyway.
            if self.config.protocol == "mqttv5":
                rc, mid = client.subscribe([
                    (flt, SubscribeOptions(qos=qos, retainHandling=SEND_RETAINED_IF_NEW))
                    for flt, qos in wanted])
            else:
                rc, mid = client.subscribe(wanted)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
                self._suback = (mid, wanted)
                return
        logger.error("%s: could not send SUBSCRIBE: %s (retried on reconnect)", self.name,
                     mqtt.error_string(rc))

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int,
                      reason_codes: list[ReasonCode], _properties: Any) -> None:
        with self._lock:
            if self._suback is None or self._suback[0] != mid:
                return  # not the answer to this connection's SUBSCRIBE
            refused, notes = check_suback(self._suback[1], reason_codes)
            self._suback = None
            self._refused = refused
        for note in notes:
            logger.warning("%s: %s", self.name, note)
        for flt, cause in refused.items():
            logger.error("%s: broker %s refused the subscription to %s: %s; messages on it "
                         "will not arrive (check the broker's ACL for user %s)", self.name,
                         self.config.url, flt, cause, self.config.username)
        if refused:
            self.last_error = "broker refused the subscription to " + ", ".join(
                f"{flt} ({cause})" for flt, cause in refused.items())
        else:
            logger.info("%s: subscribed to %d topic filter(s)", self.name, len(self._handlers))
            self._subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        handlers = self._matcher.match(message.topic)
        if not handlers:
            logger.warning("%s: message on unexpected topic %s ignored", self.name,
                           message.topic)
        for handler in handlers:
            try:
                handler(message)
            except Exception:  # a handler bug must never kill paho's network thread
                logger.exception("%s: handling a message on %s failed", self.name,
                                 message.topic)


def _no_ack() -> None:
    """The acknowledgement of a message that needs none."""
