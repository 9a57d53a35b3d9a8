"""``[console]``: what the duty console shows and when it warns.

```toml
[console]
ack_target_s = 30          # an unacknowledged alarm turns amber after this
ack_overdue_s = 60         # ... and red after this
tiles_dir = "/var/lib/alarmlink/tiles"      # {z}/{x}/{y}.png, or:
pmtiles = "/var/lib/alarmlink/duan.pmtiles" # one raster PMTiles file
```

With neither ``tiles_dir`` nor ``pmtiles`` the map is drawn on a plain background with
the county outlines of the registry. No tile is ever fetched from outside the station.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator, model_validator

from alarmlink.config_base import StrictModel, resolve_config_path

logger = logging.getLogger(__name__)


class ConsoleConfig(StrictModel):
    ack_target_s: float = Field(30.0, gt=0, le=3600, description="Acknowledgement target: an "
                                "unacknowledged incident older than this is shown amber.")
    ack_overdue_s: float | None = Field(None, gt=0, le=7200, description="Shown red past this; "
                                        "default twice ack_target_s.")
    tiles_dir: Path | None = Field(None, description="Map tiles installed at the station as "
                                   "{z}/{x}/{y}.png (or .jpg, .webp) under this directory.")
    pmtiles: Path | None = Field(None, description="Map tiles as one raster PMTiles file "
                                 "(see docs/operations.md, 'The map').")
    max_zoom: int = Field(16, ge=1, le=22, description="Deepest zoom level of the tiles.")

    @field_validator("tiles_dir", "pmtiles")
    @classmethod
    def _relative_paths(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return resolve_config_path(value, info)

    @model_validator(mode="after")
    def _one_base_layer(self) -> ConsoleConfig:
        if self.tiles_dir is not None and self.pmtiles is not None:
            raise ValueError("set tiles_dir or pmtiles, not both")
        if self.ack_overdue_s is not None and self.ack_overdue_s < self.ack_target_s:
            raise ValueError("ack_overdue_s must be at least ack_target_s")
        return self

    @property
    def red_after_s(self) -> float:
        return self.ack_overdue_s if self.ack_overdue_s is not None else 2 * self.ack_target_s
