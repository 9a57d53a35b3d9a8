"""Fixtures shared by every test tier: a real Mosquitto on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alarmlink.broker import BrokerUser, MosquittoBroker, mosquitto_binary

CENTRAL_USER = BrokerUser("central", "central-test-pw", "central")
#: Devices known to the test broker; password = "<id>-pw".
TEST_DEVICES = ["school-01", "hotel-01", "village-01", "school-02", "dev-a", "dev-b"]


def device_user(device_id: str) -> BrokerUser:
    return BrokerUser(device_id, f"{device_id}-pw")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A running, authenticated Mosquitto with central and the TEST_DEVICES accounts."""
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed; run the suite through `make test`")
    broker = MosquittoBroker([CENTRAL_USER, *map(device_user, TEST_DEVICES)],
                             workdir=tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.close()
