"""``[health]``: when ``/healthz`` says central is not fit to take alarms."""

from __future__ import annotations

from pydantic import Field

from alarmlink.config_base import StrictModel


class HealthConfig(StrictModel):
    probe_interval_s: float = Field(
        2.0, gt=0, le=60, description="Seconds between write probes: the writer updates a "
                                      "one-row table, so a full disk shows even when no "
                                      "alarm arrives.")
    max_write_age_s: float = Field(
        10.0, gt=0, description="Unhealthy when the last successful database write (probe "
                                "or any other) is older than this.")
    failure_hold_s: float = Field(
        30.0, ge=0, description="A failed write keeps the database unhealthy this long, "
                                "even if a later small write succeeds.")
    max_ingest_lag_s: float = Field(
        30.0, gt=0, description="Unhealthy when a database job (an incoming alarm, an "
                                "officer's action) has waited this long for the writer.")
    min_free_mb: float = Field(
        16.0, ge=0, description="Unhealthy when the database's file system has less free "
                                "space than this (MiB).")
