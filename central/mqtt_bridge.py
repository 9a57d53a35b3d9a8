"""Central's MQTT connection: a persistent session feeding the :class:`Ingestor`.

Built on :class:`alarmlink.mqtt.MqttClient`:

* Fixed client id and a persistent session (MQTT 5: ``clean_start=False`` with
  a Session Expiry Interval; MQTT 3.1.1: ``clean_session=False``), so the
  broker queues QoS 1 events while central is down and delivers them when it
  returns.
* Manual acknowledgement: each message is only queued (:class:`IngestQueue`, alarms
  first, fair between devices); the writer commits a batch, publishes its receipts,
  then sends each PUBACK. The broker considers an event delivered only after central
  has committed it. Without a writer (tools, tests) ingest runs on paho's thread and
  the PUBACK follows it.
* A refused connection (bad credentials, not authorised) is logged with the
  broker's reason and never counts as connected. Reconnects use a bounded
  exponential backoff with jitter.
* Every SUBACK is checked: a refused subscription is logged as an error and
  :attr:`MqttBridge.ready` (and so ``/healthz``) stays false, with the cause in
  :attr:`MqttBridge.last_error`.
"""

from __future__ import annotations

import logging
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from alarmlink.mqtt import MqttClient
from alarmlink.wire import Topics
from central.config import BrokerConfig
from central.ingest import Ingestor
from central.ingest_queue import Budgets, Delivery, IngestQueue
from central.mqtt_process import MqttProcess, RemoteMessage

logger = logging.getLogger(__name__)

#: channel -> subscription QoS. Heartbeats are published at QoS 0 anyway.
SUBSCRIPTIONS = {"event": 1, "status": 1, "heartbeat": 1, "cmd/result": 1, "snapshot/+": 1,
                 "rtc/reply": 1, "rtc/rec/+": 1}
#: MQTT 5 Receive Maximum central asks for: QoS 1 messages the broker may have in flight
#: to central before PUBACKs return. PUBACKs follow a batch's commit, so this bounds what
#: waits in central's own queue, where alarms go first and devices take turns, rather
#: than in the broker's one in-order queue (a flood, a restart's backlog of last wills).
#: A will still queued when its device's ``online`` arrives is replaced by it
#: (:meth:`IngestQueue.put`): one write, not two.
RECEIVE_MAXIMUM = 20000
#: Channels every node hears itself even when nodes share the device topics: the live
#: audio/video sessions' signalling and recordings belong to the node holding the session.
NODE_CHANNELS = frozenset({"rtc/reply", "rtc/rec/+"})


class MqttBridge:
    """Connects to the broker, subscribes to every device, hands messages to ingest."""

    def __init__(self, config: BrokerConfig, ingestor: Ingestor, *,
                 telemetry: BrokerConfig | None = None, budgets: Budgets | None = None,
                 share_group: str | None = None, process: bool = False) -> None:
        self.config = config
        self.ingestor = ingestor
        self.topics = Topics(config.topic_prefix)
        #: Central nodes on PostgreSQL share the device topics (MQTT 5 ``$share/<group>/``:
        #: each message goes to one node) with clean sessions: a dead node leaves no
        #: session collecting a share nobody reads, and the devices resend until stored.
        self.share_group = share_group
        clean = share_group is not None
        #: ``process``: the [broker] connection is held by a child process that only reads
        #: and sends (central/mqtt_process.py); the PUBACK still follows the commit here.
        self.client: MqttClient | MqttProcess = (
            MqttProcess(config, name="central", clean=clean, receive_maximum=RECEIVE_MAXIMUM)
            if process else MqttClient(config, name="central", clean=clean, manual_ack=True,
                                       receive_maximum=RECEIVE_MAXIMUM))
        #: With ``telemetry_broker``: the second connection, for everything but events.
        self.telemetry = (None if telemetry is None else MqttClient(
            telemetry, name="central-telemetry", clean=clean, manual_ack=True,
            receive_maximum=RECEIVE_MAXIMUM))
        self.queue = (IngestQueue(ingestor.writer, ingestor.handle_batch, budgets=budgets)
                      if ingestor.writer is not None else None)
        if self.queue is not None:  # long batches of status stop early for an alarm
            ingestor.should_yield = self.queue.alarm_waiting
        self._last_message: float | None = None
        for channel, qos in SUBSCRIPTIONS.items():
            client = self.client if channel == "event" or self.telemetry is None \
                else self.telemetry
            handler = self._on_message if client is self.client else self._on_telemetry
            topic = self.topics.all_devices(channel)
            if share_group is not None and channel not in NODE_CHANNELS:
                topic = f"$share/{share_group}/{topic}"
            client.subscribe(topic, handler, qos)

    @property
    def _clients(self) -> list[MqttClient | MqttProcess]:
        return [self.client] + ([self.telemetry] if self.telemetry is not None else [])

    @property
    def connected(self) -> bool:
        """True only between an accepted CONNACK and the next disconnect."""
        return all(c.connected for c in self._clients)

    @property
    def ready(self) -> bool:
        """Connected and the broker has granted every subscription."""
        return all(c.ready for c in self._clients)

    @property
    def last_error(self) -> str | None:
        """Why the last connect or subscription failed (None once connected cleanly)."""
        errors = [c.last_error for c in self._clients if c.last_error]
        return "; ".join(errors) if errors else None

    @property
    def epoch(self) -> int:
        """Counts central's connections to the broker (every connection's connects): it
        changes whenever central lost the broker and came back, however briefly
        (supervision reads it: :meth:`central.supervision.Supervisor.set_listening`)."""
        return sum(c.connect_count for c in self._clients)

    @property
    def ingest_lag_s(self) -> float:
        """How far behind central's ingest is (:attr:`IngestQueue.lag_s`; 0 without one)."""
        return 0.0 if self.queue is None else self.queue.lag_s

    @property
    def session_present(self) -> bool | None:
        """The broker still had central's session at the last connect (None before one)."""
        return self.client.session_present

    @property
    def last_message_age_s(self) -> float | None:
        """Seconds since the broker last delivered a message (None: none since start)."""
        last = self._last_message
        return None if last is None else time.monotonic() - last

    def wait_ready(self, timeout: float) -> bool:
        """Block until :attr:`ready` (or ``timeout`` seconds); returns :attr:`ready`."""
        deadline = time.monotonic() + timeout
        return all(c.wait_ready(max(0.0, deadline - time.monotonic())) for c in self._clients)

    def start(self) -> None:
        """Connect in the background (the broker may be down: the client keeps retrying)."""
        for client in self._clients:
            client.start()

    def stop(self) -> None:
        """Disconnect normally: the broker keeps the session and queues for us."""
        for client in self._clients:
            client.stop()

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, not retained. Thread-safe. While disconnected paho queues it."""
        info = self.client.publish(topic, payload, qos=1, retain=False)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            logger.error("publish to %s failed: %s", topic, mqtt.error_string(info.rc))
        elif info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            logger.warning("publish to %s queued: not connected", topic)

    def publish_qos0(self, topic: str, payload: bytes) -> None:
        """QoS 0, not retained, thread-safe: ``stored`` receipts (a lost one only makes the
        device resend its event, which ingest deduplicates and answers again)."""
        info = self.client.publish(topic, payload, qos=0, retain=False)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            logger.error("publish to %s failed: %s", topic, mqtt.error_string(info.rc))

    def _on_telemetry(self, message: mqtt.MQTTMessage) -> None:
        assert self.telemetry is not None
        self._deliver(message, self.telemetry)

    def _on_message(self, message: mqtt.MQTTMessage | RemoteMessage) -> None:
        self._deliver(message, self.client)

    def _deliver(self, message: mqtt.MQTTMessage | RemoteMessage,
                 client: MqttClient | MqttProcess) -> None:
        self._last_message = time.monotonic()
        ack = client.acker(message)  # type: ignore[arg-type]  # (each its own kind)
        delivery = Delivery(message.topic, bytes(message.payload), ack)
        if self.queue is not None:
            self.queue.put(delivery)
            return
        self.ingestor.handle(delivery.topic, delivery.payload)
        delivery.ack()
