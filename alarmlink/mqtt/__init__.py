"""The one MQTT client factory (paho-mqtt >= 2.1, callback API v2) for all of alarmlink.

:mod:`alarmlink.mqtt.factory` builds clients (the only place that constructs one),
:mod:`alarmlink.mqtt.client` is the long-running connection of agent and central
(:mod:`alarmlink.mqtt.disconnects` its failures, drops and reconnect waits),
:mod:`alarmlink.mqtt.reasons` turns broker answers into one-line causes and paces
reconnects.
"""

from alarmlink.mqtt.client import Availability, Handler, MqttClient
from alarmlink.mqtt.factory import MqttConnectError, connect_client, make_client, paho_client

__all__ = ["Availability", "Handler", "MqttClient", "MqttConnectError", "connect_client",
           "make_client", "paho_client"]
