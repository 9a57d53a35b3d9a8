"""``[audit]`` in central's config: how long the audit trail is kept, and its local time.

::

    [audit]
    retention_days = 365          # at least 180; older rows are pruned once a day
    timezone = "Asia/Shanghai"    # the stations' zone: exports show local time beside UTC
    prune_interval_s = 86400      # how often central prunes (also once at start)
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from alarmlink.config_base import FrozenStrictModel

logger = logging.getLogger(__name__)

MIN_RETENTION_DAYS = 180
DEFAULT_TIMEZONE = "Asia/Shanghai"


class AuditConfig(FrozenStrictModel):
    retention_days: int = Field(
        365, description=f"Keep audit rows this many days (at least {MIN_RETENTION_DAYS}); "
                         "older ones are pruned, and the prune itself is audited.")
    timezone: str = Field(DEFAULT_TIMEZONE, description="IANA time zone of the stations, "
                          "e.g. Asia/Shanghai: audit exports show this local time beside UTC.")
    prune_interval_s: float = Field(86400.0, ge=60, description="How often retention runs.")

    @field_validator("retention_days")
    @classmethod
    def _long_enough(cls, value: int) -> int:
        if value < MIN_RETENTION_DAYS:
            raise ValueError(f"must be at least {MIN_RETENTION_DAYS} days (audit rows are "
                             f"evidence); set retention_days = {MIN_RETENTION_DAYS} or more")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone_info(value)
        return value


def zone_info(name: str) -> ZoneInfo:
    """The zone called ``name``; ValueError with the fix when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as "
                         f"{DEFAULT_TIMEZONE!r} (install the tzdata package if it is "
                         "missing)") from None
