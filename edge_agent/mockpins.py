"""Mock pins at rest: what a PC run of the agent reads when nothing is happening.

On a PC (``GPIOZERO_PIN_FACTORY=mock``, ``alarmlink sim venue``, a boot bundle tried
with ``--try-local``) there is no wiring. gpiozero's mock pins rest at their pull
level, which reads as an OPEN contact: every normally-closed detector and every
supervision loop would report alarm or trouble at once. :func:`rest_pins` drives each
pin to the level of its contact at rest (normally-closed contacts and loops closed,
normally-open contacts open), so a simulation starts quiet and ``self-test`` passes.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from edge_agent.config import AgentConfig, DetectorInput, InputConfig, LoopInput

logger = logging.getLogger(__name__)


def mock_requested() -> bool:
    """Did the user ask for gpiozero's mock pins (``GPIOZERO_PIN_FACTORY=mock``)?"""
    return os.environ.get("GPIOZERO_PIN_FACTORY", "").strip().lower() == "mock"


def rest_closed(item: InputConfig) -> bool:
    """Is the main contact closed when nothing is happening?"""
    return isinstance(item, LoopInput) or item.contact == "normally_closed"


def set_contact(factory: Any, item: InputConfig, pin: int, *, closed: bool) -> None:
    """Drive mock ``pin`` of ``item`` as if its contact were ``closed`` (or open)."""
    mock = factory.pin(pin)
    # Pull-up wiring: a closed contact pulls the pin to ground.
    if closed == item.pull_up:
        mock.drive_low()
    else:
        mock.drive_high()


def rest_pins(factory: Any, config: AgentConfig) -> None:
    """Every input's mock pins at rest (call after the agent opened its inputs)."""
    for item in config.inputs:
        set_contact(factory, item, item.pin, closed=rest_closed(item))
        if isinstance(item, DetectorInput) and item.supervision_pin is not None:
            set_contact(factory, item, item.supervision_pin, closed=True)


def mock_factory() -> Any:
    """A fresh gpiozero ``MockFactory`` (imported only when used)."""
    from gpiozero.pins.mock import MockFactory

    return MockFactory()
