"""``[modem]`` of the agent's TOML: the venue that can still call for help when its network
is down (issue 13).

```toml
[modem]
port = "/dev/ttyUSB2"                 # the GSM modem (a pyserial device path or URL)
station_numbers = ["13800000000"]     # the station's alarm number(s): the failover SMS
keyholder_numbers = ["13900000000"]   # a plain Chinese text
key_file = "failover.key"             # the device's failover HMAC key, mode 0600
after_s = 20                          # an alarm not stored at central this long: SMS
sounder_pin = 22                      # optional local sounder
unacknowledged_s = 120                # optional: sound also when not acknowledged this long
```
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from alarmlink.config_base import StrictModel, resolve_config_path
from edge_agent.pins import normalise_pin


class FailoverConfig(StrictModel):
    port: str = Field(min_length=1, description="Serial port (or pyserial URL) of the "
                      "venue's GSM modem.")
    station_numbers: list[str] = Field(min_length=1, description="The station's alarm "
                                       "number(s): each gets the authenticated failover SMS.")
    keyholder_numbers: list[str] = Field(default_factory=list, description="Keyholders: "
                                         "each gets a plain Chinese text.")
    key_file: Path = Field(description="The device's failover HMAC key (a text file, mode "
                           "0600; `alarmlink central failover-key` makes it).")
    after_s: float = Field(20.0, ge=1, le=3600, description="An alarm not stored at central "
                           "within this many seconds goes out by SMS (once per event).")
    sounder_pin: int | None = Field(None, description="Local sounder output (BCM number or "
                                    "pin name): sounds while an alarm is not stored after "
                                    "after_s, until acknowledged or silenced.")
    sounder_active_high: bool = Field(True, description="false for a sounder that switches "
                                      "on at low level.")
    unacknowledged_s: float | None = Field(None, ge=1, le=86400, description="Also sound "
                                           "when an alarm is not acknowledged this long.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Modem answer timeout.")
    tick_s: float = Field(0.5, gt=0, le=60, description="How often pending alarms are "
                          "looked at.")

    @field_validator("sounder_pin", mode="before")
    @classmethod
    def _check_pin(cls, value: object) -> int | None:
        return None if value is None else normalise_pin(value)

    @field_validator("key_file")
    @classmethod
    def _relative_key(cls, value: Path, info: ValidationInfo) -> Path:
        return resolve_config_path(value, info) or value
