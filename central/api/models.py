"""Request and response shapes of central's HTTP API (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, Field, StringConstraints

from alarmlink.config_base import StrictModel
from alarmlink.wire import CommandName, Outcome

Note = Annotated[str, StringConstraints(max_length=2000)]
#: SQLite's largest INTEGER: a bigger id would make the query raise (a 500), not a 404.
MAX_DB_INT = 2**63 - 1
IncidentId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="Incident id")]


class _Body(StrictModel):
    """Unknown keys are errors."""


class ActionBody(_Body):
    """A state-changing request. Who acts is the session's user, never the body."""

    note: Note = Field("", description="Free text for the incident log.")


class ResolveBody(ActionBody):
    outcome: Outcome = Field(description="real_fire | real_emergency | false_alarm | test | "
                                         "malicious | repaired | device_fault | power | other")


class Incident(BaseModel):
    id: int
    category: Literal["alarm", "trouble"]
    status: Literal["new", "acknowledged", "dispatched", "resolved", "closed"]
    open: bool = Field(description="new, acknowledged or dispatched")
    kind: str = Field(description="Kind of the first event")
    kinds: list[str]
    zones: dict[str, str] = Field(description="zone -> alarm | trouble | restored; "
                                  "device:<id> -> offline | stopped | restored")
    station_id: str
    station_name: str
    venue_id: str
    venue_name: str
    venue_kind: str
    venue_address: str
    first_event_id: str
    event_count: int
    opened_at: str
    updated_at: str
    last_event_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    dispatched_at: str | None
    dispatched_by: str | None
    resolved_at: str | None
    resolved_by: str | None
    outcome: str | None
    closed_at: str | None
    closed_by: str | None
    version: int = Field(description="Grows with every change; newer copies win.")
    new_since_ack: bool = Field(False, description="An event joined after the last "
                                "acknowledgement; acknowledging again clears it.")


class StoredEvent(BaseModel):
    event_id: str
    device_id: str
    venue_id: str
    seq: int
    ts: str = Field(description="Device clock")
    received_at: str = Field(description="Central clock")
    delay_s: float
    clock_skewed: bool
    kind: str
    state: str
    zone: str
    zone_known: bool
    source: str
    test: bool
    detail: dict[str, Any]
    incident_id: int | None
    deliveries: int


class LogEntry(BaseModel):
    at: str
    actor: str
    action: str
    detail: dict[str, Any]


class IncidentDetail(BaseModel):
    incident: Incident
    events: list[StoredEvent]
    log: list[LogEntry]
    venue: dict[str, Any] | None = Field(None, description="The venue card: address, lat, "
                                         "lon, contacts (and keyholders), procedure (预案)")
    procedure: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="step (0-based) -> its last tick: done, actor, at")


class DeviceInfo(BaseModel):
    device_id: str
    venue_id: str
    venue_name: str
    station_id: str
    zones: list[str]
    online: bool = Field(description="Says online and was heard from within the timeout")
    availability: str | None = Field(description="Last status: online | offline | stopped")
    last_seen: str | None
    last_heartbeat: str | None
    clock_offset_s: float | None
    boot_id: str
    version: str
    config_hash: str
    outbox_depth: int | None
    device_class: str = Field("standard", description="Supervision class in force")
    class_known: bool = Field(True, description="false: the registry names an unknown class; "
                                                "the default class is used")
    bound_s: float | None = Field(None, description="Loss -> trouble bound of the class")
    heartbeat_s: float | None = Field(None, description="Heartbeat interval the class expects")
    state: Literal["online", "offline", "stopped", "never"] | None = Field(
        None, description="Supervision: never = registered but never connected")
    down_reason: Literal["offline", "stopped", "silent"] | None = Field(
        None, description="offline = last will, silent = heartbeats stopped, stopped = clean "
                          "exit")
    down_since: str | None = None
    trouble_due_at: str | None = Field(None, description="When the trouble opens if still down")
    trouble_incident_id: int | None = None
    dropouts: int = Field(0, description="Short dropouts that ended within the grace period")
    last_dropout_s: float | None = None
    silent_for_s: float | None = Field(None, description="Seconds since last heard")
    untested_zones: list[str] = Field(
        default_factory=list, description="Registry zones no commissioning walk test has seen")
    commissioning: bool = Field(False, description="In commissioning mode (walk test running)")
    clock_skewed: bool = Field(False, description="Device clock off by more than "
                                                  "clock_skew_threshold_s")
    checked_at: str | None = Field(None, description="Last supervision check at central")


CommandArgValue = str | int | float | bool | None


class CommandBody(ActionBody):
    """``POST /api/devices/{id}/commands``: what to run and how long it may wait."""

    name: CommandName = Field(description="self_test | reload_config | reboot | silence | "
                                          "snapshot")
    args: dict[str, CommandArgValue] = Field(default_factory=dict)
    ttl_s: int = Field(60, ge=1, le=86_400, description="Seconds until the command expires; "
                                                        "a device that gets it later refuses it")


class CommandResultView(BaseModel):
    ok: bool
    ts: str = Field(description="Device clock")
    received_at: str = Field(description="Central clock")
    detail: dict[str, Any]


class CommandView(BaseModel):
    cmd_id: str
    device_id: str
    name: str
    args: dict[str, Any]
    actor: str
    created_at: str
    expires_at: str
    status: Literal["pending", "ok", "failed", "refused_expired", "unanswered"]
    result: CommandResultView | None


class StationInfo(BaseModel):
    id: str
    name: str
    county_id: str
    county_name: str
    phone: str
    venues: int
    open_incidents: int


class DeadLetter(BaseModel):
    id: int
    received_at: str
    topic: str
    device_id: str | None
    payload_size: int = Field(description="Original size in bytes")
    payload_preview: str = Field(description="Stored bytes as text, undecodable bytes replaced")
    payload_b64: str = Field(description="Stored bytes (first 4 KiB), base64")
    reason: str


class Health(BaseModel):
    """``GET /healthz``: 200 when ``ok``, else 503; each problem is one line with its fix."""

    ok: bool = Field(description="True when central can take alarms: broker link up, "
                                 "database writing, ingest not lagging")
    problems: list[str] = Field(default_factory=list, description="One line per failing "
                                "part: cause and fix, e.g. 'database: disk full (SQLITE_FULL) "
                                "at 12:03:04 — free space on /var/lib/alarmlink'")
    db: str = Field(description="'ok' or 'error: ...' (the first database problem)")
    node: str = Field("", description="This central node's name (config node_name, default "
                                      "the host name)")
    role: Literal["single", "leader", "follower"] = Field(
        "single", description="'single' on SQLite; on PostgreSQL 'leader' (escalation, "
                              "supervision and retention run here) or 'follower'")
    database: Literal["sqlite", "postgresql"] = Field("sqlite", description="The backend")
    mqtt: Literal["connected", "subscribing", "subscription_refused", "disconnected", "disabled"]
    mqtt_error: str | None = None
    writes_pending: int = Field(0, description="Database writes queued or running on central's "
                                               "one writer thread")
    ingest_lag_s: float = Field(0.0, description="How long the oldest queued database job "
                                                 "(ingest, an action) has waited; 0 when idle")
    last_commit_at: str | None = Field(None, description="Last successful database write "
                                                         "(UTC)")
    last_commit_age_s: float | None = Field(None, description="Seconds since that write")
    last_write_error: str | None = Field(None, description="Last failed write: SQLite's error "
                                                           "name and message, and when (UTC)")
    free_mb: float | None = Field(None, description="Free space on the database's file "
                                                    "system, MiB")
    last_broker_message_age_s: float | None = Field(
        None, description="Seconds since the broker last delivered a message (informational)")
