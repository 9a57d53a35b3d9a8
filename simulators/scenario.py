"""Scenario files for ``alarmlink sim venue --scenario FILE``: a timeline of actions.

::

    name = "school demo"
    period_s = 90          # with --repeat, the timeline restarts every 90 s

    [[step]]
    at = 5.0               # seconds after the start of the cycle
    action = "press"       # press | trip | restore | cut | mend | status
    zone = "gate-button"

Every table forbids unknown keys; ``at`` must not decrease; every zone must
exist in the venue's config. Errors name the file, key and reason, like the
agent's config errors.
"""

from __future__ import annotations

import logging
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from alarmlink.config_base import FrozenStrictModel, describe_errors
from edge_agent.config import AgentConfig, ConfigError
from simulators.venue import SimulatorError, VenueSimulator

logger = logging.getLogger(__name__)

Action = Literal["press", "trip", "restore", "cut", "mend", "status"]


class _Strict(FrozenStrictModel):
    """Unknown keys are errors."""


class Step(_Strict):
    at: float = Field(ge=0, description="Seconds after the start of the cycle.")
    action: Action = Field(description="What the tester does.")
    zone: str | None = Field(None, description="Zone acted on (all actions but status).")
    hold_s: float | None = Field(None, gt=0, le=60, description="press: hold this long.")

    @model_validator(mode="after")
    def _zone_needed(self) -> Step:
        if self.action != "status" and not self.zone:
            raise ValueError(f"action {self.action!r} needs a zone")
        if self.hold_s is not None and self.action != "press":
            raise ValueError("hold_s applies to press only")
        return self


class Scenario(_Strict):
    name: str = Field("", description="Shown when the scenario starts.")
    description: str = Field("", description="Free text for the tester.")
    period_s: float | None = Field(
        None, gt=0, description="Cycle length with --repeat; default: last step's at + 10 s.")
    step: list[Step] = Field(min_length=1, description="The timeline, in order of 'at'.")

    @model_validator(mode="after")
    def _ordered(self) -> Scenario:
        for index in range(1, len(self.step)):
            if self.step[index].at < self.step[index - 1].at:
                raise ValueError(f"step[{index}].at ({self.step[index].at:g}) is before "
                                 f"step[{index - 1}].at ({self.step[index - 1].at:g})")
        if self.period_s is not None and self.period_s < self.step[-1].at:
            raise ValueError(f"period_s ({self.period_s:g}) is shorter than the last step's "
                             f"at ({self.step[-1].at:g})")
        return self

    @property
    def period(self) -> float:
        return self.period_s if self.period_s is not None else self.step[-1].at + 10.0


def load_scenario(path: str | Path, config: AgentConfig | None = None) -> Scenario:
    """Read and validate a scenario; with ``config``, check its zones. Raises ConfigError."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([f"{path}: {line}" for line in describe_errors(exc, Scenario, data=raw)]
                          ) from None
    if config is not None:
        zones = {item.zone for item in config.inputs}
        bad = [f"{path}: step[{i}].zone: {s.zone!r} is not a zone of {config.device_id} "
               f"(zones: {', '.join(sorted(zones)) or 'none'})"
               for i, s in enumerate(scenario.step) if s.zone is not None and s.zone not in zones]
        if bad:
            raise ConfigError(bad)
    return scenario


def run_step(venue: VenueSimulator, step: Step) -> None:
    """Do one step; a failed action is reported, not raised (the show goes on)."""
    try:
        if step.action == "status":
            venue.say(venue.status())
            return
        assert step.zone is not None
        if step.action == "press":
            venue.press(step.zone, hold_s=step.hold_s)
        else:
            action: Callable[[str], object] = getattr(venue, step.action)
            action(step.zone)
    except SimulatorError as exc:
        venue.say(f"step {step.action} {step.zone}: FAILED: {exc}")


def run_scenario(venue: VenueSimulator, scenario: Scenario, *, repeat: bool = False,
                 stop: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic) -> bool:
    """Play the timeline (forever with ``repeat``). False if ``stop`` interrupted it."""
    stop = stop or threading.Event()
    if scenario.name:
        venue.say(f"scenario {scenario.name!r}{' (repeating)' if repeat else ''}")
    start = clock()
    cycle = 0
    while True:
        for step in scenario.step:
            due = start + cycle * scenario.period + step.at
            remaining = due - clock()
            if remaining > 0 and stop.wait(remaining):
                return False
            if stop.is_set():
                return False
            run_step(venue, step)
        if not repeat:
            return True
        cycle += 1
        # If actions overran a whole period, skip ahead instead of firing a burst.
        behind = int((clock() - start) // scenario.period) - cycle
        if behind > 0:
            cycle += behind
