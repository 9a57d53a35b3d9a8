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
#: Accounts with central's rights for the tests' stand-ins and probes. The broker binds
#: the client id to the user name, so two connections of one account at once take over
#: each other's session: central, each stand-in and each probe need an account of their own.
OBSERVER_USERS = [BrokerUser(f"central-observer-{n}", f"observer-{n}-test-pw", "central")
                  for n in range(1, 4)]
#: A raw client with central's rights (``mqtt_test_client``) beside a running central.
PROBE_USER = BrokerUser("central-probe", "probe-test-pw", "central")
#: Every central-side account a test broker has.
CENTRAL_ACCOUNTS = [CENTRAL_USER, *OBSERVER_USERS, PROBE_USER]
#: Devices known to the test broker; password = "<id>-pw".
TEST_DEVICES = ["school-01", "hotel-01", "village-01", "school-02", "dev-a", "dev-b"]


def device_user(device_id: str) -> BrokerUser:
    return BrokerUser(device_id, f"{device_id}-pw")
