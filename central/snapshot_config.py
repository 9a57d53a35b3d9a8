"""``[snapshots]`` in central's config: retention and live-view limits.

::

    [snapshots]
    evidence_days = 365      # frames of alarm incidents, counted from the incident's close
    routine_days = 30        # everything else: trouble incidents, test events, no incident
    prune_interval_s = 3600  # how often central prunes (also once at start)
    live_max_s = 300         # longest live view an officer may request
    live_max_fps = 2         # fastest live view an officer may request
    command_ttl_s = 30       # a snapshot command not taken up by then is dropped

Files are stored under ``{data_dir}/snapshots/`` (content-addressed by sha256).
"""

from __future__ import annotations

from pydantic import Field

from alarmlink.config_base import FrozenStrictModel


class SnapshotsConfig(FrozenStrictModel):

    evidence_days: float = Field(
        365.0, gt=0, description="Keep frames of alarm incidents this long after the incident "
                                 "was resolved (open incidents are never pruned).")
    routine_days: float = Field(
        30.0, gt=0, description="Keep other frames (trouble incidents, test events, frames "
                                "without an incident) this long after they arrived.")
    prune_interval_s: float = Field(3600.0, ge=1, description="How often retention runs.")
    live_max_s: int = Field(300, ge=1, le=3600, description="Longest live view requested.")
    live_max_fps: float = Field(2.0, gt=0, le=10, description="Fastest live view requested.")
    command_ttl_s: float = Field(30.0, ge=1, le=3600,
                                 description="Expiry of a snapshot command sent to a device.")
