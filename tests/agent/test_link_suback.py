"""The agent checks SUBACK: a subscription the broker refuses is detected and reported."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_testkit import TOPICS, make_config
from dynsec_broker import ALLOW_ALL, device_acls, dynsec_broker
from fixtures.agents import AgentSet
from fixtures.mqtt import CentralStub
from helpers import CENTRAL_USER, OBSERVER_USERS, device_user, wait_for

from alarmlink.broker import MosquittoBroker

pytestmark = pytest.mark.broker


@pytest.fixture
def no_receipts_broker() -> Iterator[MosquittoBroker]:
    """Mosquitto that lets school-01 subscribe to its commands but not to its receipts."""
    broker = dynsec_broker({
        CENTRAL_USER: ALLOW_ALL, OBSERVER_USERS[0]: ALLOW_ALL,
        device_user("school-01"): device_acls("school-01", TOPICS, receipt=False)})
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.mark.parametrize(("protocol", "code"), [("mqttv5", "0x87"), ("mqttv311", "0x80")])
def test_refused_receipt_subscription_is_detected_and_events_still_go_out(
        tmp_path: Path, no_receipts_broker: MosquittoBroker, agent_set: AgentSet,
        protocol: str, code: str, caplog: pytest.LogCaptureFixture) -> None:
    observer = CentralStub(no_receipts_broker)
    try:
        config = make_config(tmp_path, url=no_receipts_broker.url,
                             broker={"protocol": protocol})
        agent = agent_set.new(config)
        error = wait_for(lambda: agent.link.last_error, what="the refused subscription")
        receipt_topic = TOPICS.receipt("school-01")
        assert f"refused the subscription to {receipt_topic}" in error
        assert code in error
        assert TOPICS.cmd("school-01") not in error  # that one was granted
        assert agent.connected and not agent.link.ready
        assert any(r.levelno == logging.ERROR and receipt_topic in r.getMessage()
                   for r in caplog.records)
        # an alarm is never held back: it is published, and kept until a receipt arrives
        event = agent.raise_event("panic", "alarm", "gate-button")
        wait_for(lambda: observer.events(), what="the event at central")
        assert agent.outbox.contains(event.event_id)
    finally:
        observer.close()


def test_granted_subscriptions_make_the_link_ready(
        tmp_path: Path, fresh_mosquitto: MosquittoBroker, agent_set: AgentSet) -> None:
    agent = agent_set.new(make_config(tmp_path, url=fresh_mosquitto.url))
    wait_for(lambda: agent.link.ready, what="both subscriptions granted")
    assert agent.link.last_error is None
