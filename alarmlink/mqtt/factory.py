"""Building paho clients: the only module that constructs one (:func:`paho_client`).

From a :class:`~alarmlink.broker_endpoint.BrokerConfig`: :func:`make_client`
(credentials, TLS with ``ca_file`` or the system CAs, reconnect bounds, session
options) and :func:`connect_client` (connected, loop running; for probes, tests and
the bench).
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from alarmlink.broker_endpoint import BrokerConfig
from alarmlink.mqtt.batched_io import BatchedIoClient
from alarmlink.mqtt.diagnose import diagnose
from alarmlink.mqtt.reasons import DropNoise, connect_cause

logger = logging.getLogger(__name__)

Protocol = Literal["mqttv5", "mqttv311"]

_PAHO_LOGGER = logging.getLogger(f"{__name__}.paho")
_PAHO_LOGGER.addFilter(DropNoise())


class MqttConnectError(ConnectionError):
    """A one-shot connect (:func:`connect_client`) that did not end in an accepted CONNACK."""


def paho_client(*, client_id: str = "", protocol: Protocol = "mqttv5",
                clean: bool = True, reconnect_on_failure: bool = True,
                batched_io: bool = False) -> mqtt.Client:
    """A bare paho client, callback API v2: no credentials, no TLS, not connected.

    The only place in the repository that constructs a paho client. Without
    ``reconnect_on_failure`` a refused or dropped connection stays so (test probes).
    ``batched_io``: bulk socket reads and joined writes (:mod:`alarmlink.mqtt.batched_io`).
    """
    v5 = protocol == "mqttv5"
    options: dict[str, Any] = {
        "client_id": client_id, "protocol": mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        "clean_session": None if v5 else clean, "reconnect_on_failure": reconnect_on_failure}
    if batched_io:
        return BatchedIoClient(CallbackAPIVersion.VERSION2, **options)
    return mqtt.Client(CallbackAPIVersion.VERSION2, **options)


def persistent(config: BrokerConfig, clean: bool) -> bool:
    return not clean and config.session_expiry_s > 0


def make_client(config: BrokerConfig, *, client_id: str | None = None, clean: bool = True,
                require_password: bool = False, batched_io: bool = False) -> mqtt.Client:
    """A paho client with ``config``'s credentials, TLS and reconnect bounds; not connected.

    ``client_id`` defaults to ``config.effective_client_id``. ``require_password``
    makes a missing password a :class:`~alarmlink.config_base.ConfigError` (as an
    unreadable password file always is).
    """
    client = paho_client(client_id=client_id or config.effective_client_id,
                         protocol=config.protocol, clean=not persistent(config, clean),
                         batched_io=batched_io)
    password = config.resolve_password() if require_password else config.password_or_none()
    client.username_pw_set(config.username,
                           password.get_secret_value() if password is not None else None)
    if config.tls:
        client.tls_set(ca_certs=str(config.ca_file) if config.ca_file else None,
                       cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(config.reconnect_min_s, config.reconnect_max_s)
    client.max_queued_messages_set(0)  # 0 = unlimited: never drop a queued QoS 1 message
    client.enable_logger(_PAHO_LOGGER)
    return client


def connect_options(config: BrokerConfig, clean: bool,
                    receive_maximum: int | None = None) -> dict[str, Any]:
    """``clean_start`` and ``properties`` for paho's connect (3.1.1 ignores both).

    ``receive_maximum`` (MQTT 5 Receive Maximum, 1..65535): how many QoS 1 messages the
    broker may have in flight to this client before it waits for PUBACKs. Central sets
    it high, because it acknowledges only after a batch commits: the window is the
    largest batch it can ever gather.
    """
    if config.protocol != "mqttv5":
        return {}
    props = Properties(PacketTypes.CONNECT)
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    if not persistent(config, clean):
        if receive_maximum is None:
            return {"clean_start": True}
        return {"clean_start": True, "properties": props}
    props.SessionExpiryInterval = config.session_expiry_s
    return {"clean_start": False, "properties": props}


def connect_client(config: BrokerConfig, *, client_id: str | None = None, clean: bool = True,
                   timeout: float = 10.0, keepalive: int | None = None) -> mqtt.Client:
    """A client connected to ``config``'s broker with its network loop running.

    Raises :class:`MqttConnectError` (with a one-line cause) when the broker cannot
    be reached, refuses the connection or does not answer within ``timeout``.
    The caller ends it with ``client.disconnect(); client.loop_stop()``.
    """
    client = make_client(config, client_id=client_id, clean=clean)
    answered = threading.Event()
    reasons: list[ReasonCode] = []

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        reasons.append(reason)
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(config.host, config.port, keepalive or config.keepalive_s,
                       **connect_options(config, clean))
    except OSError as exc:
        cause = diagnose(config.host, config.port, tls=config.tls, ca_file=config.ca_file)
        raise MqttConnectError(f"cannot reach {config.url}: {cause or exc}") from exc
    client.loop_start()
    problem = None
    if not answered.wait(timeout):
        cause = diagnose(config.host, config.port, tls=config.tls, ca_file=config.ca_file)
        problem = f"no answer from {config.url} within {timeout:g}s" + (
            f": {cause}" if cause else "")
    elif reasons[0].is_failure:
        problem = f"{config.url} refused {config.username}: {connect_cause(reasons[0])}"
    if problem is not None:
        client.disconnect()
        client.loop_stop()
        raise MqttConnectError(problem)
    client.on_connect = None
    return client
