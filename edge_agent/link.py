"""The agent's MQTT link: paho-mqtt >= 2.1, callback API v2, MQTT 5 (or 3.1.1).

- Client id = device id; user name and password from the config.
- Last will: :class:`~alarmlink.wire.Status` ``offline``, retained, QoS 1.
- Only a CONNACK with a success reason code counts as connected. A refused
  connect (bad password, not authorised) is logged with the broker's reason
  and leaves :attr:`MqttLink.connected` false; paho keeps retrying with backoff.
- On each successful connect: subscribe to the device's own ``receipt`` and
  ``cmd`` topics, publish ``online`` (retained), then call ``on_connected`` so
  the agent resends every unconfirmed event.
- Reconnect with bounded exponential backoff (``reconnect_min_s`` ..
  ``reconnect_max_s``), also when the broker is down at the very first connect
  (``connect_async`` + ``loop_start``, which retries the first connection).
- Persistent session (MQTT 5 ``clean_start=False`` with a session expiry, or
  3.1.1 ``clean_session=False``), so receipts and commands sent while the
  agent was offline are delivered when it returns. Expired commands are
  dropped by the agent.
- :meth:`MqttLink.stop` publishes ``stopped`` (retained) and waits for the
  broker's PUBACK before disconnecting, so a clean exit is not taken for a crash.

Malformed receipts and commands are logged and ignored; nothing a broker sends
can crash the link.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from alarmlink import wire
from edge_agent.config import AgentConfig

logger = logging.getLogger(__name__)


class _DropNoise(logging.Filter):
    """paho 2.2 logs "Client is not connected" at ERROR after every disconnect; our own
    disconnect and reconnect messages already say it, in words an operator can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


_PAHO_LOGGER = logging.getLogger(f"{__name__}.paho")
_PAHO_LOGGER.addFilter(_DropNoise())


class MqttLink:
    """One device's connection to the broker. Thread safe for publishing."""

    def __init__(self, config: AgentConfig, *, boot_id: str, version: str,
                 on_connected: Callable[[], None] | None = None,
                 on_disconnected: Callable[[], None] | None = None,
                 on_receipt: Callable[[wire.Receipt], None] | None = None,
                 on_command: Callable[[wire.Command], None] | None = None) -> None:
        self.config = config
        self.device_id = config.device_id
        self.topics = config.topics
        self.boot_id = boot_id
        self.version = version
        self.config_hash = config.config_hash()
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.on_receipt = on_receipt
        self.on_command = on_command
        #: The broker's reason for the last refused or failed connection, for self-test.
        self.last_error: str | None = None
        self.connect_count = 0
        self._connected = threading.Event()
        self._stopping = False
        self._failures = 0
        self._started = False
        self.client = self._make_client()

    # --- setup -----------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        broker = self.config.broker
        v5 = broker.protocol == "mqttv5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.device_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False)
        client.username_pw_set(broker.username, broker.resolve_password().get_secret_value())
        client.reconnect_delay_set(broker.reconnect_min_s, broker.reconnect_max_s)
        client.will_set(self.topics.status(self.device_id),
                        self._status(wire.Availability.OFFLINE), qos=1, retain=True)
        if broker.tls:
            client.tls_set(ca_certs=str(broker.ca_file) if broker.ca_file else None)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.enable_logger(_PAHO_LOGGER)
        return client

    def _status(self, state: wire.Availability) -> bytes:
        return wire.encode(wire.Status(state=state, ts=wire.utcnow(), boot_id=self.boot_id,
                                       version=self.version, config_hash=self.config_hash))

    def start(self) -> None:
        """Connect in the background; returns at once (the broker may be down)."""
        broker = self.config.broker
        self._started = True
        if broker.protocol == "mqttv5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = broker.session_expiry_s
            self.client.connect_async(broker.host, broker.port, broker.keepalive_s,
                                      clean_start=broker.session_expiry_s == 0,
                                      properties=props)
        else:
            self.client.connect_async(broker.host, broker.port, broker.keepalive_s)
        self.client.loop_start()
        logger.info("%s: connecting to %s as %s (%s)", self.device_id, broker.url,
                    broker.username, broker.protocol)

    # --- state -----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # --- publishing ------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, *, qos: int = 1,
                retain: bool = False) -> mqtt.MQTTMessageInfo | None:
        """Hand a message to paho if connected; None when not connected or refused."""
        if not self.connected:
            return None
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            logger.debug("publish to %s not queued: %s", topic, mqtt.error_string(info.rc))
            return None
        return info

    def publish_event(self, payload: bytes) -> bool:
        """Publish one encoded event (QoS 1). False if it could not be handed over."""
        return self.publish(self.topics.event(self.device_id), payload, qos=1) is not None

    def publish_heartbeat(self, heartbeat: wire.Heartbeat) -> bool:
        return self.publish(self.topics.heartbeat(self.device_id), wire.encode(heartbeat),
                            qos=0) is not None

    def publish_result(self, result: wire.CommandResult) -> bool:
        return self.publish(self.topics.cmd_result(self.device_id), wire.encode(result),
                            qos=1) is not None

    # --- paho callbacks (paho's network thread) -------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any,
                    reason_code: ReasonCode, _properties: Any) -> None:
        if reason_code.is_failure:
            self._connected.clear()
            self.last_error = f"broker refused the connection: {reason_code}"
            self._failures += 1
            if _should_log(self._failures):
                logger.error("%s: broker %s refused the connection: %s (check broker.username, "
                             "the password and the broker's ACL; attempt %d)", self.device_id,
                             self.config.broker.url, reason_code, self._failures)
            return
        self._failures = 0
        self.last_error = None
        self.connect_count += 1
        client.subscribe([(self.topics.receipt(self.device_id), 1),
                          (self.topics.cmd(self.device_id), 1)])
        client.publish(self.topics.status(self.device_id),
                       self._status(wire.Availability.ONLINE), qos=1, retain=True)
        self._connected.set()
        logger.info("%s: connected to %s", self.device_id, self.config.broker.url)
        if self.on_connected is not None:
            try:
                self.on_connected()
            except Exception:
                logger.exception("%s: on_connected handler failed", self.device_id)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._connected.clear()
        self._failures += 1
        self.last_error = f"cannot reach broker {self.config.broker.url}"
        if _should_log(self._failures):
            logger.warning("%s: cannot reach broker %s (attempt %d); retrying",
                           self.device_id, self.config.broker.url, self._failures)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any,
                       reason_code: ReasonCode, _properties: Any) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if self._stopping:
            logger.info("%s: disconnected", self.device_id)
        elif was_connected:
            logger.warning("%s: connection to %s lost (%s); reconnecting", self.device_id,
                           self.config.broker.url, reason_code)
        if was_connected and self.on_disconnected is not None:
            try:
                self.on_disconnected()
            except Exception:
                logger.exception("%s: on_disconnected handler failed", self.device_id)

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        try:
            if message.topic == self.topics.receipt(self.device_id):
                receipt = wire.decode(wire.Receipt, bytes(message.payload))
                if self.on_receipt is not None:
                    self.on_receipt(receipt)
            elif message.topic == self.topics.cmd(self.device_id):
                command = wire.decode(wire.Command, bytes(message.payload))
                if self.on_command is not None:
                    self.on_command(command)
            else:
                logger.warning("%s: message on unexpected topic %s ignored", self.device_id,
                               message.topic)
        except wire.ContractError as exc:
            logger.warning("%s: ignoring malformed message on %s: %s", self.device_id,
                           message.topic, exc)
        except Exception:  # a handler bug must never kill paho's network thread
            logger.exception("%s: handling a message on %s failed", self.device_id,
                             message.topic)

    # --- shutdown --------------------------------------------------------------------

    def stop(self, timeout: float = 5.0) -> bool:
        """Publish ``stopped`` (retained), wait for it, disconnect. True if it was sent."""
        if not self._started:
            return False
        self._stopping = True
        sent = False
        info = self.publish(self.topics.status(self.device_id),
                            self._status(wire.Availability.STOPPED), qos=1, retain=True)
        if info is not None:
            try:
                info.wait_for_publish(timeout)
                sent = info.is_published()
            except (RuntimeError, ValueError) as exc:
                logger.warning("%s: could not publish 'stopped': %s", self.device_id, exc)
        if not sent:
            logger.warning("%s: stopping without confirming the 'stopped' status; central "
                           "will see the last will or a missed heartbeat instead",
                           self.device_id)
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()
        self._started = False
        return sent


def _should_log(count: int) -> bool:
    """Log the 1st, 2nd, 4th, 8th... repeated failure, not every retry."""
    return count & (count - 1) == 0
