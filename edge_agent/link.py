"""The agent's MQTT link: the device's view of :class:`alarmlink.mqtt.MqttClient`.

- Client id = device id; user name and password from the config (a missing
  password is a config error at construction).
- Last will: :class:`~alarmlink.wire.Status` ``offline``, retained, QoS 1.
- Only a CONNACK with a success reason code counts as connected. A refused
  connect (bad password, not authorised) is logged with the broker's reason
  and leaves :attr:`MqttLink.connected` false; the client keeps retrying with
  bounded exponential backoff and jitter (``reconnect_min_s`` .. ``reconnect_max_s``),
  also when the broker is down at the very first connect.
- On each successful connect: subscribe to the device's own ``receipt`` and
  ``cmd`` topics, publish ``online`` (retained), then call ``on_connected`` so
  the agent resends every unconfirmed event.
- The SUBACK is checked. A refused subscription (the broker's ACL) is logged as
  an error and kept in :attr:`MqttLink.last_error`, and :attr:`MqttLink.ready` stays
  false. The link still counts as connected: events are still published (an
  alarm that reaches central without a receipt beats one that is held back), and
  they stay in the outbox until a receipt arrives.
- Persistent session (MQTT 5 ``clean_start=False`` with a session expiry, or
  3.1.1 ``clean_session=False``), so receipts and commands sent while the
  agent was offline are delivered when it returns. Expired commands are
  dropped by the agent.
- :meth:`MqttLink.stop` publishes ``stopped`` (retained) and waits for the
  broker's PUBACK before disconnecting, so a clean exit is not taken for a crash.
- Up to ``alarmlink.broker.MAX_INFLIGHT_MESSAGES`` QoS 1 messages in flight (paho's
  default is 20), as the generated broker config allows, so a backlog drains at link
  speed (edge_agent/sender.py).

Malformed receipts and commands are logged and ignored; nothing a broker sends
can crash the link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from alarmlink import wire
from alarmlink.broker import MAX_INFLIGHT_MESSAGES
from alarmlink.mqtt import Availability, MqttClient
from edge_agent.config import AgentConfig

logger = logging.getLogger(__name__)


class MqttLink:
    """One device's connection to the broker. Thread safe for publishing."""

    def __init__(self, config: AgentConfig, *, boot_id: str, version: str,
                 on_connected: Callable[[], None] | None = None,
                 on_disconnected: Callable[[], None] | None = None,
                 on_receipt: Callable[[wire.Receipt], None] | None = None,
                 on_command: Callable[[wire.Command], None] | None = None,
                 on_rtc: Callable[[wire.RtcSignal], None] | None = None) -> None:
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
        self.on_rtc = on_rtc
        status_topic = self.topics.status(self.device_id)
        self.mqtt = MqttClient(
            config.broker, name=self.device_id,
            require_password=True,
            availability=Availability(
                status_topic, online=lambda: self._status(wire.Availability.ONLINE),
                offline=lambda: self._status(wire.Availability.OFFLINE),
                stopped=lambda: self._status(wire.Availability.STOPPED)),
            on_connected=lambda: self._call(self.on_connected),
            on_disconnected=lambda: self._call(self.on_disconnected))
        # A draining backlog keeps as many QoS 1 events in flight as the broker allows
        # (paho's default is 20, one round trip per 20 events).
        self.mqtt.paho.max_inflight_messages_set(MAX_INFLIGHT_MESSAGES)
        self.mqtt.subscribe(self.topics.receipt(self.device_id), self._on_receipt, qos=1)
        self.mqtt.subscribe(self.topics.cmd(self.device_id), self._on_command, qos=1)
        if on_rtc is not None:
            self.mqtt.subscribe(self.topics.rtc(self.device_id), self._on_rtc, qos=1)

    def _status(self, state: wire.Availability) -> bytes:
        return wire.encode(wire.Status(state=state, ts=wire.utcnow(), boot_id=self.boot_id,
                                       version=self.version, config_hash=self.config_hash))

    @staticmethod
    def _call(hook: Callable[[], None] | None) -> None:
        if hook is not None:
            hook()

    def start(self) -> None:
        """Connect in the background; returns at once (the broker may be down)."""
        self.mqtt.start()

    # --- state -----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.mqtt.connected

    @property
    def session_takeovers(self) -> int:
        """Times since start the broker dropped this device for a session takeover (0x8E)."""
        return self.mqtt.takeovers

    @property
    def ready(self) -> bool:
        """Connected and the broker granted the ``receipt`` and ``cmd`` subscriptions."""
        return self.mqtt.ready

    @property
    def last_error(self) -> str | None:
        """The broker's reason for the last refused or failed connection or subscription."""
        return self.mqtt.last_error

    @property
    def connect_count(self) -> int:
        return self.mqtt.connect_count

    def wait_connected(self, timeout: float) -> bool:
        return self.mqtt.wait_connected(timeout)

    # --- publishing ------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, *, qos: int = 1,
                retain: bool = False) -> mqtt.MQTTMessageInfo | None:
        """Hand a message to paho if connected; None when not connected or refused."""
        if not self.connected:
            return None
        info = self.mqtt.publish(topic, payload, qos=qos, retain=retain)
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

    # --- incoming (paho's network thread) --------------------------------------------

    def _on_receipt(self, message: mqtt.MQTTMessage) -> None:
        try:
            receipt = wire.decode(wire.Receipt, bytes(message.payload))
        except wire.ContractError as exc:
            self._malformed(message, exc)
            return
        if self.on_receipt is not None:
            self.on_receipt(receipt)

    def _on_command(self, message: mqtt.MQTTMessage) -> None:
        try:
            command = wire.decode(wire.Command, bytes(message.payload))
        except wire.ContractError as exc:
            self._malformed(message, exc)
            return
        if self.on_command is not None:
            self.on_command(command)

    def _on_rtc(self, message: mqtt.MQTTMessage) -> None:
        try:
            signal = wire.decode(wire.RtcSignal, bytes(message.payload))
        except wire.ContractError as exc:
            self._malformed(message, exc)
            return
        if self.on_rtc is not None:
            self.on_rtc(signal)

    def publish_rtc(self, signal: wire.RtcSignal) -> bool:
        """Send a live-session signal to central (QoS 1). False when not connected."""
        return self.publish(self.topics.rtc_reply(self.device_id), wire.encode(signal),
                            qos=1) is not None

    def publish_rec(self, session_id: str, payload: bytes) -> mqtt.MQTTMessageInfo | None:
        """Send one chunk of a session's recording (QoS 1); None when not connected."""
        return self.publish(self.topics.rtc_rec(self.device_id, session_id), payload, qos=1)

    def _malformed(self, message: mqtt.MQTTMessage, exc: wire.ContractError) -> None:
        logger.warning("%s: ignoring malformed message on %s: %s", self.device_id,
                       message.topic, exc)

    # --- shutdown --------------------------------------------------------------------

    def stop(self, timeout: float = 5.0) -> bool:
        """Publish ``stopped`` (retained), wait for it, disconnect. True if it was sent."""
        return self.mqtt.stop(timeout)
