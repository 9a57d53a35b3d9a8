"""Central's MQTT connection: a persistent session feeding the :class:`Ingestor`.

* Fixed client id and a persistent session (MQTT 5: ``clean_start=False`` with
  a Session Expiry Interval; MQTT 3.1.1: ``clean_session=False``), so the
  broker queues QoS 1 events while central is down and delivers them when it
  returns.
* ``on_message`` calls :meth:`Ingestor.handle` synchronously. paho sends the
  PUBACK for a QoS 1 message only after ``on_message`` returns, so the broker
  considers an event delivered only after central has committed it.
* A refused connection (bad credentials, not authorised) is logged with the
  broker's reason and never counts as connected. paho reconnects with a
  bounded exponential backoff.
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from alarmlink.wire import Topics
from central.config import BrokerConfig
from central.ingest import Ingestor

logger = logging.getLogger(__name__)

#: channel -> subscription QoS. Heartbeats are published at QoS 0 anyway.
SUBSCRIPTIONS = {"event": 1, "status": 1, "heartbeat": 1, "cmd/result": 1, "snapshot/+": 1}


class MqttBridge:
    """Connects to the broker, subscribes to every device, hands messages to ingest."""

    def __init__(self, config: BrokerConfig, ingestor: Ingestor) -> None:
        self.config = config
        self.ingestor = ingestor
        self.topics = Topics(config.topic_prefix)
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._subscribe_mid: int | None = None
        self.last_error: str | None = None
        self.session_present: bool | None = None
        protocol = (MQTTProtocolVersion.MQTTv5 if config.protocol == "mqttv5"
                    else MQTTProtocolVersion.MQTTv311)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=config.effective_client_id,
            clean_session=None if protocol == MQTTProtocolVersion.MQTTv5 else False,
            protocol=protocol, reconnect_on_failure=True,
        )
        password = config.password_or_none()
        if config.username:
            self.client.username_pw_set(
                config.username, password.get_secret_value() if password else None)
        if config.tls:
            self.client.tls_set(ca_certs=str(config.ca_file) if config.ca_file else None,
                                cert_reqs=ssl.CERT_REQUIRED)
        self.client.reconnect_delay_set(config.reconnect_min_s, config.reconnect_max_s)
        self.client.max_queued_messages_set(0)  # 0 = unlimited: never drop a receipt
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._started = False

    @property
    def connected(self) -> bool:
        """True only between an accepted CONNACK and the next disconnect."""
        return self._connected.is_set()

    @property
    def ready(self) -> bool:
        """Connected and the broker has confirmed every subscription."""
        return self._connected.is_set() and self._subscribed.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Block until :attr:`ready` (or ``timeout`` seconds); returns :attr:`ready`."""
        self._subscribed.wait(timeout)
        return self.ready

    def start(self) -> None:
        """Connect in the background (the broker may be down: paho keeps retrying)."""
        if self._started:
            return
        properties = None
        clean_start: bool | Literal[3] = mqtt.MQTT_CLEAN_START_FIRST_ONLY  # 3.1.1 ignores it
        if self.config.protocol == "mqttv5":
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.config.session_expiry_s
            clean_start = False
        logger.info("connecting to %s as %s (client id %s, %s)", self.config.url,
                    self.config.username, self.config.effective_client_id, self.config.protocol)
        self.client.connect_async(self.config.host, self.config.port,
                                  keepalive=self.config.keepalive_s,
                                  clean_start=clean_start, properties=properties)
        self.client.loop_start()
        self._started = True

    def stop(self) -> None:
        """Disconnect normally: the broker keeps the session and queues for us."""
        if not self._started:
            return
        self._started = False
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()
        self._subscribed.clear()
        logger.info("disconnected from %s", self.config.url)

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, not retained. Thread-safe. While disconnected paho queues it."""
        info = self.client.publish(topic, payload, qos=1, retain=False)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            logger.error("publish to %s failed: %s", topic, mqtt.error_string(info.rc))
        elif info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            logger.warning("publish to %s queued: not connected", topic)

    # ------------------------------------------------------------- callbacks

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: mqtt.ConnectFlags,
                    reason_code: ReasonCode, _properties: Properties | None) -> None:
        if reason_code.is_failure:
            self._connected.clear()
            self._subscribed.clear()
            self.last_error = f"connection refused by broker: {reason_code}"
            logger.error("MQTT connection to %s as %r refused: %s", self.config.url,
                         self.config.username, reason_code)
            return
        self.session_present = bool(flags.session_present)
        self.last_error = None
        logger.info("connected to %s (session present: %s)", self.config.url,
                    self.session_present)
        self._connected.set()
        _rc, self._subscribe_mid = client.subscribe(
            [(self.topics.all_devices(channel), qos) for channel, qos in SUBSCRIPTIONS.items()])

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int,
                      reason_codes: list[ReasonCode], _properties: Properties | None) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            self.last_error = f"broker refused subscriptions: {failed}"
            logger.error("broker refused subscriptions (mid %s): %s", mid, failed)
        elif mid == self._subscribe_mid:
            logger.info("subscribed to every device under %s", self.topics.prefix)
            self._subscribed.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any,
                       _flags: mqtt.DisconnectFlags, reason_code: ReasonCode,
                       _properties: Properties | None) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        self._subscribed.clear()
        if was and self._started:
            logger.warning("MQTT connection lost (%s); reconnecting", reason_code)

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        self.ingestor.handle(message.topic, bytes(message.payload))
