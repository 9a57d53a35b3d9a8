"""Central's schema: versioned migrations, applied by :func:`central.db.open_db`.

A migration never edits an earlier one: a new table, column or index is a new
``mNNN_`` function at the end of this file.
"""

from __future__ import annotations

import logging

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

logger = logging.getLogger(__name__)

migrations = Migrations("alarmlink-central")


def _run(db: Database, statements: str) -> None:
    # executescript() would COMMIT the migration's transaction; run one by one.
    for statement in statements.split(";\n"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m001_initial(db: Database) -> None:
    _run(db, """
CREATE TABLE counties (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE stations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    county_id TEXT NOT NULL REFERENCES counties(id),
    phone TEXT NOT NULL DEFAULT ''
);
CREATE TABLE venues (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('school', 'hotel', 'village')),
    address TEXT NOT NULL DEFAULT '',
    station_id TEXT NOT NULL REFERENCES stations(id)
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    venue_id TEXT NOT NULL REFERENCES venues(id),
    zones TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    category TEXT NOT NULL CHECK (category IN ('alarm', 'trouble')),
    venue_id TEXT NOT NULL REFERENCES venues(id),
    station_id TEXT NOT NULL REFERENCES stations(id),
    status TEXT NOT NULL CHECK (
        status IN ('new', 'acknowledged', 'dispatched', 'resolved', 'closed')),
    kind TEXT NOT NULL,
    kinds TEXT NOT NULL DEFAULT '[]',
    zones TEXT NOT NULL DEFAULT '{}',
    first_event_id TEXT NOT NULL,
    event_count INTEGER NOT NULL DEFAULT 0,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_event_at TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    dispatched_at TEXT,
    dispatched_by TEXT,
    resolved_at TEXT,
    resolved_by TEXT,
    outcome TEXT CHECK (outcome IS NULL OR
        outcome IN ('real_fire', 'false_alarm', 'test', 'malicious', 'other')),
    closed_at TEXT,
    closed_by TEXT,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX incidents_one_open_per_venue ON incidents (venue_id, category)
    WHERE status IN ('new', 'acknowledged', 'dispatched');
CREATE INDEX incidents_station_status ON incidents (station_id, status);
CREATE TABLE incident_log (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_log_incident ON incident_log (incident_id);
CREATE TABLE events (
    event_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id),
    venue_id TEXT NOT NULL REFERENCES venues(id),
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    received_at TEXT NOT NULL,
    delay_s REAL NOT NULL,
    clock_skewed INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    zone TEXT NOT NULL,
    zone_known INTEGER NOT NULL DEFAULT 1,
    source TEXT NOT NULL,
    test INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '{}',
    incident_id INTEGER REFERENCES incidents(id),
    deliveries INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX events_device_seq ON events (device_id, seq);
CREATE INDEX events_incident ON events (incident_id);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    topic TEXT NOT NULL,
    device_id TEXT,
    payload BLOB NOT NULL,
    payload_size INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received_at);
CREATE TABLE device_state (
    device_id TEXT PRIMARY KEY REFERENCES devices(id),
    availability TEXT,
    status_ts TEXT,
    last_seen TEXT,
    last_heartbeat TEXT,
    clock_offset_s REAL,
    boot_id TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL DEFAULT '',
    config_hash TEXT NOT NULL DEFAULT '',
    uptime_s REAL,
    outbox_depth INTEGER,
    inputs TEXT NOT NULL DEFAULT '{}',
    temperature_c REAL
);
CREATE TABLE command_results (
    id INTEGER PRIMARY KEY,
    cmd_id TEXT NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices(id),
    ok INTEGER NOT NULL,
    ts TEXT NOT NULL,
    received_at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    UNIQUE (cmd_id, device_id)
);
CREATE TABLE snapshots (
    event_id TEXT NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices(id),
    received_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    jpeg BLOB NOT NULL,
    PRIMARY KEY (event_id, device_id)
)
""")


@migrations()
def m002_supervision_and_commands(db: Database) -> None:
    """Issue 5: device classes, the supervision state machine, remote commands."""
    _run(db, """
ALTER TABLE devices ADD COLUMN device_class TEXT NOT NULL DEFAULT '';
CREATE TABLE supervision (
    device_id TEXT PRIMARY KEY REFERENCES devices(id),
    state TEXT NOT NULL CHECK (state IN ('up', 'down', 'trouble')),
    reason TEXT CHECK (reason IS NULL OR reason IN ('offline', 'stopped', 'silent')),
    down_since TEXT,
    incident_id INTEGER REFERENCES incidents(id),
    dropouts INTEGER NOT NULL DEFAULT 0,
    last_dropout_s REAL,
    changed_at TEXT NOT NULL
);
CREATE TABLE commands (
    cmd_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id),
    name TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '{}',
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX commands_device ON commands (device_id, created_at)
""")


@migrations()
def m003_snapshot_index(db: Database) -> None:
    """Issue 4: snapshots are files under data_dir (content-addressed); this is their index.

    Replaces the issue-1 placeholder (one JPEG blob per event, no metadata). Any
    rows it holds are kept in ``snapshots_legacy_v1``.
    """
    legacy = db["snapshots"].count
    db.execute("DROP TABLE snapshots" if legacy == 0
               else "ALTER TABLE snapshots RENAME TO snapshots_legacy_v1")
    _run(db, """
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id),
    event_id TEXT NOT NULL,
    incident_id INTEGER REFERENCES incidents(id),
    seq INTEGER NOT NULL,
    phase TEXT NOT NULL CHECK (phase IN ('pre', 'alarm', 'post', 'live')),
    camera TEXT NOT NULL,
    ts TEXT NOT NULL,
    received_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    UNIQUE (device_id, event_id, seq)
);
CREATE INDEX snapshots_incident ON snapshots (incident_id, ts);
CREATE INDEX snapshots_event ON snapshots (event_id);
CREATE INDEX snapshots_sha256 ON snapshots (sha256);
CREATE INDEX snapshots_received ON snapshots (received_at)
""")


@migrations()
def m004_credentials_and_commissioning(db: Database) -> None:
    """Issue 5: MQTT accounts (Mosquitto hashes only) and commissioning walk tests."""
    _run(db, """
CREATE TABLE mqtt_accounts (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('device', 'central')),
    device_id TEXT REFERENCES devices(id),
    password_hash TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    rotated_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT
);
CREATE TABLE commissioning (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id),
    installer TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL,
    ended_at TEXT,
    ended_by TEXT
);
CREATE UNIQUE INDEX commissioning_one_open ON commissioning (device_id)
    WHERE ended_at IS NULL;
CREATE TABLE commissioning_hits (
    session_id INTEGER NOT NULL REFERENCES commissioning(id),
    zone TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    hits INTEGER NOT NULL DEFAULT 1,
    first_event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (session_id, zone)
)
""")


@migrations()
def m005_identity_and_audit(db: Database) -> None:
    """Issue 9: the organisation tree above counties and below stations, officers'
    accounts and sessions, login failures, and the hash-chained audit log."""
    _run(db, """
CREATE TABLE cities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
ALTER TABLE counties ADD COLUMN city_id TEXT REFERENCES cities(id);
CREATE TABLE police_offices (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    station_id TEXT NOT NULL REFERENCES stations(id)
);
ALTER TABLE venues ADD COLUMN office_id TEXT REFERENCES police_offices(id);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('admin', 'county_command', 'station_leader',
        'duty_officer', 'installer', 'auditor', 'viewer')),
    node_kind TEXT NOT NULL CHECK (node_kind IN ('root', 'city', 'county', 'station',
        'office')),
    node_id TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    mobile TEXT NOT NULL DEFAULT '',
    totp_secret TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    disabled_at TEXT,
    disabled_by TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    ended_at TEXT,
    ended_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX login_failures_source ON login_failures (source, at);
CREATE INDEX login_failures_username ON login_failures (username, at);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('allowed', 'denied')),
    detail TEXT NOT NULL DEFAULT '{}',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_log_object ON audit_log (object);
CREATE INDEX audit_log_at ON audit_log (at)
""")


@migrations()
def m007_walk_test_bounds(db: Database) -> None:
    """Issue 9: a walk test says why it runs and until when (``reason``, ``ends_at``).

    Sessions already in the table get the old fixed bound: four hours after their start.
    """
    _run(db, """
ALTER TABLE commissioning ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE commissioning ADD COLUMN ends_at TEXT;
UPDATE commissioning SET ends_at = strftime('%Y-%m-%dT%H:%M:%fZ', started_at, '+4 hours')
    WHERE ends_at IS NULL;
CREATE INDEX commissioning_open ON commissioning (ended_at, ends_at)
""")


@migrations()
def m008_health_probe(db: Database) -> None:
    # One row the writer rewrites every few seconds (central/health.py): a full disk or a
    # broken database shows in /healthz even when no alarm arrives.
    _run(db, """
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0
)
""")

