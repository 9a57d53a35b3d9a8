"""``[commissioning]`` in central's config: how long a walk test may run.

::

    [commissioning]
    default_duration_s = 3600     # when the request names no duration_s
    max_duration_s = 14400        # the longest walk test anyone may start (4 h)
"""

from __future__ import annotations

import logging

from pydantic import Field, model_validator

from alarmlink.config_base import FrozenStrictModel

logger = logging.getLogger(__name__)


class CommissioningConfig(FrozenStrictModel):
    default_duration_s: int = Field(3600, ge=60, description="Walk-test length when the "
                                    "request gives no duration_s.")
    max_duration_s: int = Field(14400, ge=60, le=86400, description="Longest walk test that "
                                "may be started; while it runs, the device's alarms are tests.")

    @model_validator(mode="after")
    def _default_within_max(self) -> CommissioningConfig:
        if self.default_duration_s > self.max_duration_s:
            raise ValueError(f"default_duration_s ({self.default_duration_s}) is longer than "
                             f"max_duration_s ({self.max_duration_s}); lower it")
        return self
