"""/healthz tells a refused subscription apart from a lost broker."""

from __future__ import annotations

import pytest

from central.service import _mqtt_state


@pytest.mark.parametrize(("connected", "ready", "error", "state"), [
    (True, True, None, "connected"),
    (False, False, "connection refused: bad user name or password", "disconnected"),
    (False, False, None, "disconnected"),
    (True, False, "broker refused the subscription to x (0x87)", "subscription_refused"),
    (True, False, None, "subscribing"),
])
def test_mqtt_state(connected: bool, ready: bool, error: str | None, state: str) -> None:
    assert _mqtt_state(connected, ready, error) == state
