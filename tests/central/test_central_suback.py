"""Central checks SUBACK: a subscription the broker refuses keeps it not ready, with the cause."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from central_testkit import DEMO_REGISTRY, TEST_BASE_URL, TOPICS
from dynsec_broker import ALLOW_ALL, dynsec_broker
from fastapi.testclient import TestClient
from helpers import CENTRAL_USER, wait_for

from alarmlink.broker import MosquittoBroker
from central.api import create_app
from central.config import BrokerConfig, CentralConfig
from central.ingest import Ingestor
from central.mqtt_bridge import MqttBridge

pytestmark = pytest.mark.broker
EVENTS = TOPICS.all_devices("event")


@pytest.fixture
def events_only_broker() -> Iterator[MosquittoBroker]:
    """Mosquitto that lets central subscribe to events and to nothing else."""
    acls = [acl for acl in ALLOW_ALL if acl[0] != "subscribePattern"]
    broker = dynsec_broker({CENTRAL_USER: [*acls, ("subscribeLiteral", EVENTS)]})
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


def broker_config(broker: MosquittoBroker, protocol: str = "mqttv5") -> BrokerConfig:
    return BrokerConfig(url=broker.url, username="central", password="central-test-pw",
                        protocol=protocol, reconnect_max_s=2)  # type: ignore[arg-type]


@pytest.mark.parametrize(("protocol", "code"), [("mqttv5", "0x87"), ("mqttv311", "0x80")])
def test_refused_subscriptions_keep_central_not_ready(
        events_only_broker: MosquittoBroker, ingestor: Ingestor, protocol: str, code: str,
        caplog: pytest.LogCaptureFixture) -> None:
    bridge = MqttBridge(broker_config(events_only_broker, protocol), ingestor)
    bridge.start()
    try:
        error = wait_for(lambda: bridge.last_error, what="the refused subscriptions")
        assert bridge.connected and not bridge.ready
        assert not bridge.wait_ready(0.1)
        for channel in ("status", "heartbeat", "cmd/result", "snapshot/+", "rtc/reply",
                        "rtc/rec/+"):
            assert f"{TOPICS.all_devices(channel)} (" in error and code in error
        assert f"{EVENTS} (" not in error  # granted
        refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert sum("refused the subscription" in m for m in refusals) == 6
    finally:
        bridge.stop()


def test_health_reports_the_refused_subscription(events_only_broker: MosquittoBroker,
                                                 db_path: Path) -> None:
    config = CentralConfig(db=db_path, registry=DEMO_REGISTRY,
                           broker=broker_config(events_only_broker))
    with TestClient(create_app(config), base_url=TEST_BASE_URL) as client:
        health = wait_for(lambda: (h := client.get("/healthz")).json()["mqtt_error"] and h,
                          what="health with the refusal")
        assert health.status_code == 503
        assert health.json()["mqtt"] == "subscription_refused"
        assert "refused the subscription" in health.json()["mqtt_error"]
