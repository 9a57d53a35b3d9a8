"""``[escalation]`` and ``[modem]``: who is told, how, and when.

```toml
[escalation]
tick_s = 0.5                 # how often due stages and sends are looked at
max_attempts = 3             # per notification, then the fallback channel
backoff_s = 5                # doubled per attempt, up to backoff_max_s
fallback = { sms = "call", call = "sms" }
[escalation.policies.alarm]  # "alarm", "trouble", or "STATION/alarm" for one station
stages = [
  { after_s = 0,  targets = ["console", "village"], channels = ["sms", "call"] },
  { after_s = 30, targets = ["duty"],    channels = ["sms", "call"] },
  { after_s = 60, targets = ["leader"],  channels = ["sms", "call"] },
  { after_s = 90, targets = ["county"],  channels = ["sms", "call"] },
]
[escalation.services]        # "notify 119 / 120" from the console, or automatically
"119" = { numbers = ["119"], channels = ["call", "sms"] }
"120" = { numbers = ["120"], channels = ["call", "sms"] }
auto_fire_119 = false        # a confirmed GB 26875 fire alarm notifies 119 by itself
trouble_cooldown_s = 1800    # troubles only: one escalation per venue in this time
quiet_hours = "22:00-07:00"  # troubles only: escalation waits for the end (default: none)

[modem]
port = "/dev/ttyUSB2"        # empty: no modem (SMS and calls fail visibly)
```
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field, field_validator

from alarmlink.config_base import StrictModel
from central.audit_config import zone_info

logger = logging.getLogger(__name__)

Target = Literal["console", "duty", "leader", "county", "village", "keyholders"]
Channel = Literal["sms", "call", "webhook"]


class StageConfig(StrictModel):
    after_s: float = Field(ge=0, le=86400, description="Seconds after the incident opened.")
    targets: list[Target] = Field(description="console (the station's consoles sound: "
                                  "always reached), duty (on-duty officers of the roster), leader "
                                  "(the leader on call), county (county command users), "
                                  "village (the venue's village assistant and volunteer "
                                  "team), keyholders (the venue's keyholders).")
    channels: list[Channel] = Field(description="How each target is reached.")


def _default_alarm() -> list[StageConfig]:
    both: list[Channel] = ["sms", "call"]
    return [StageConfig(after_s=0, targets=["console", "village"], channels=both),
            StageConfig(after_s=30, targets=["duty"], channels=both),
            StageConfig(after_s=60, targets=["leader"], channels=both),
            StageConfig(after_s=90, targets=["county"], channels=both)]


class PolicyConfig(StrictModel):
    stages: list[StageConfig] = Field(default_factory=_default_alarm,
                                      description="The stages, in order of after_s.")


def _default_policies() -> dict[str, PolicyConfig]:
    return {"alarm": PolicyConfig(),
            "trouble": PolicyConfig(stages=[StageConfig(after_s=600, targets=["duty"],
                                                        channels=["sms"])])}


class ServiceConfig(StrictModel):
    numbers: list[str] = Field(default_factory=list, description="Numbers to notify.")
    channels: list[Channel] = Field(default_factory=lambda: ["call", "sms"],  # type: ignore[arg-type]
                                    description="Channels used for each number.")


def _default_services() -> dict[str, ServiceConfig]:
    return {"119": ServiceConfig(numbers=["119"]), "120": ServiceConfig(numbers=["120"])}


class EscalationConfig(StrictModel):
    enabled: bool = Field(True, description="Run the escalation scheduler.")
    tick_s: float = Field(0.5, gt=0, le=60, description="Scheduler period.")
    max_attempts: int = Field(3, ge=1, le=20, description="Attempts per notification.")
    backoff_s: float = Field(5.0, ge=0, le=3600, description="First retry delay (doubles).")
    backoff_max_s: float = Field(120.0, ge=0, le=86400, description="Longest retry delay.")
    fallback: dict[Channel, Channel] = Field(
        default_factory=lambda: {"sms": "call", "call": "sms"},  # type: ignore[arg-type]
        description="The channel tried for a recipient when one fails every attempt.")
    policies: dict[str, PolicyConfig] = Field(
        default_factory=_default_policies,
        description="Per category ('alarm', 'trouble') or per station ('STATION/alarm').")
    services: dict[str, ServiceConfig] = Field(
        default_factory=_default_services,
        description="119 (fire brigade), 120 (medical), and any other service by name.")
    auto_fire_119: bool = Field(False, description="A fire alarm from a GB 26875 fire panel "
                                "notifies 119 at once, without an officer.")
    notify_target_s: float = Field(120.0, gt=0, description="Target from the first alarm "
                                   "event to the 119/120 notification (console countdown).")
    trouble_cooldown_s: float = Field(1800.0, ge=0, le=7 * 86400, description="A trouble "
                                      "incident of a venue within this long of the last "
                                      "escalated trouble of that venue is not escalated (its "
                                      "console entry stays). Alarms (fire, panic, medical) "
                                      "are never suppressed or rate-limited.")
    quiet_hours: str = Field("", pattern=r"^$|^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$",
                             description="e.g. '22:00-07:00': a trouble escalation due in "
                             "these hours waits for their end (alarms never wait).")
    timezone: str = Field("Asia/Shanghai", description="Time zone of quiet_hours (IANA).")
    webhook_url: str = Field("", description="County CAD webhook (signed HTTP POST).")
    webhook_secret_file: str = Field("", description="File holding the webhook HMAC key.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone_info(value)
        return value

    def policy_for(self, station_id: str, category: str) -> tuple[str, PolicyConfig] | None:
        for key in (f"{station_id}/{category}", category):
            if key in self.policies:
                return key, self.policies[key]
        return None


class ModemConfig(StrictModel):
    port: str = Field("", description="Serial port (or pyserial URL) of the GSM modem; "
                      "empty: no modem.")
    timeout_s: float = Field(5.0, gt=0, le=120, description="Answer timeout per command.")
    ring_s: float = Field(30.0, gt=0, le=300, description="How long a call rings.")
    listen_s: float = Field(15.0, ge=0, le=300, description="How long an answered call "
                            "waits for the key press 1.")
    poll_s: float = Field(1.0, gt=0, le=60, description="How often the inbox is read.")
