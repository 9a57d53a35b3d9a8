"""Shared test helpers: polling with a deadline (never sleep to synchronise)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from alarmlink.broker import BrokerUser

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02,
             what: str = "condition") -> T:
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


CENTRAL_USER = BrokerUser("central", "central-test-pw", "central")
#: Devices known to the test broker; password = "<id>-pw".
TEST_DEVICES = ["school-01", "hotel-01", "village-01", "school-02", "dev-a", "dev-b"]


def device_user(device_id: str) -> BrokerUser:
    return BrokerUser(device_id, f"{device_id}-pw")
