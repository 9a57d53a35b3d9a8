"""``[limits]``: what one device may cost central (issue 11: fairness under a flood).

::

    [limits]                      # see central/limits_config.py
    non_alarm_rate_per_s = 20     # heartbeats, status, command results per device
    non_alarm_burst = 200
    dead_letter_rate_per_s = 1    # refused messages STORED per device (all are counted)
    dead_letter_burst = 100
    dead_letters_per_device = 1000
    dead_letter_max_age_days = 30

A device over either budget is throttled (the excess is acknowledged and dropped, and
counted) and raises ONE trouble at its station (zone ``flood:<device id>``) until an
officer resolves it. Events (alarms, troubles, restores) are never dropped by a budget.
"""

from __future__ import annotations

from pydantic import Field

from alarmlink.config_base import StrictModel


class LimitsConfig(StrictModel):
    non_alarm_rate_per_s: float = Field(
        20.0, gt=0, description="Heartbeats, status messages and command results per "
                                "second each device may send on average; the excess is "
                                "acknowledged, dropped and counted (they carry no alarm, "
                                "and the next one replaces them).")
    non_alarm_burst: int = Field(
        200, ge=1, description="How many non-alarm messages a device may send at once "
                               "above its rate (a reconnect's status and queued heartbeats).")
    dead_letter_rate_per_s: float = Field(
        1.0, gt=0, description="Refused messages (dead letters) stored per second per "
                               "device on average; beyond it they are counted, not stored, "
                               "so a device sending garbage cannot fill the disk.")
    dead_letter_burst: int = Field(
        100, ge=1, description="Dead letters a device may have stored at once above its "
                               "rate.")
    dead_letters_per_device: int = Field(
        1000, ge=1, description="Dead letters kept per device (messages whose device is "
                                "unknown count as one device); the oldest are deleted as "
                                "new ones are stored, and counted.")
    dead_letter_max_age_days: float = Field(
        30.0, gt=0, description="Dead letters older than this are deleted (counted) by a "
                                "prune that runs every dead_letter_prune_interval_s.")
    dead_letter_prune_interval_s: float = Field(
        3600.0, ge=1, description="Seconds between two prunes of old dead letters.")
