"""Central's migrations from the duty console on (m009-m014): re-alert and the venue card,
DC-09 accounts, escalation, failover keys, supervision deadlines.

Registered on the same :data:`central.db.schema.migrations`, after :mod:`central.db.schema`
and before :mod:`central.db.schema_management` (imported in that order by
:mod:`central.db.connection`); names never change, so existing databases are unaffected.
"""

from __future__ import annotations

import logging

from sqlite_utils import Database

from central.db.schema import _run, migrations

logger = logging.getLogger(__name__)


@migrations()
def m009_duty_console(db: Database) -> None:
    """Issue 12: re-alert after acknowledgement, the venue card and the map.

    ``incidents.new_since_ack``: an alarm event joined the incident after an officer
    acknowledged it; cleared by the next acknowledgement. ``events.acknowledged``: an
    officer acknowledged the incident after this event arrived (only such events get
    the venue's "acknowledged" receipt). Venues get coordinates, contacts and keyholders,
    and their response procedure (预案); counties an outline (GeoJSON geometry) for the map.
    """
    _run(db, """
ALTER TABLE incidents ADD COLUMN new_since_ack INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN acknowledged INTEGER NOT NULL DEFAULT 0;
UPDATE events SET acknowledged = 1 WHERE incident_id IN
    (SELECT id FROM incidents WHERE acknowledged_at IS NOT NULL);
ALTER TABLE venues ADD COLUMN lat REAL;
ALTER TABLE venues ADD COLUMN lon REAL;
ALTER TABLE venues ADD COLUMN contacts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE venues ADD COLUMN procedure TEXT NOT NULL DEFAULT '[]';
ALTER TABLE counties ADD COLUMN outline TEXT;
CREATE INDEX incidents_opened ON incidents (opened_at)
""")


@migrations()
def m010_dc09_accounts(db: Database) -> None:
    """Issue 10: a device may be a panel reporting SIA DC-09 to central's IP receiver."""
    _run(db, """
ALTER TABLE devices ADD COLUMN dc09_account TEXT;
CREATE UNIQUE INDEX devices_dc09_account ON devices (dc09_account)
    WHERE dc09_account IS NOT NULL
""")


@migrations()
def m011_escalation(db: Database) -> None:
    """Issue 13: the duty roster, persisted escalation state, every notification attempt,
    inbound SMS, and 119/120/village notifications.

    ``notifications.idem_key`` is ``incident:stage:recipient:channel``: a stage planned
    twice (a restart) inserts nothing the second time.
    """
    _run(db, """
CREATE TABLE duty_shifts (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations(id),
    username TEXT NOT NULL,
    duty TEXT NOT NULL CHECK (duty IN ('officer', 'leader')),
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX duty_shifts_station ON duty_shifts (station_id, starts_at);
CREATE TABLE escalations (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),
    policy TEXT NOT NULL,
    stage INTEGER NOT NULL,
    next_at TEXT,
    started_at TEXT NOT NULL,
    stopped_at TEXT,
    stopped_reason TEXT
);
CREATE INDEX escalations_due ON escalations (stopped_at, next_at);
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    stage TEXT NOT NULL,
    recipient TEXT NOT NULL,
    phone TEXT NOT NULL,
    channel TEXT NOT NULL,
    idem_key TEXT NOT NULL UNIQUE,
    message TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'delivered',
        'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    delivered_at TEXT,
    refs TEXT NOT NULL DEFAULT '[]',
    last_error TEXT
);
CREATE INDEX notifications_due ON notifications (state, next_try_at);
CREATE INDEX notifications_incident ON notifications (incident_id);
CREATE TABLE notification_attempts (
    id INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES notifications(id),
    at TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notification_attempts_n ON notification_attempts (notification_id);
CREATE TABLE inbound_sms (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('accepted', 'rejected')),
    reason TEXT NOT NULL DEFAULT ''
)
""")


@migrations()
def m012_failover_keys(db: Database) -> None:
    """Issue 13: each venue device's failover key, to verify the HMAC of the alarms it sends
    by SMS when its network is down (``alarmlink central failover-key``)."""
    _run(db, """
CREATE TABLE failover_keys (
    device_id TEXT PRIMARY KEY REFERENCES devices(id),
    key TEXT NOT NULL,
    created_at TEXT NOT NULL
)
""")


@migrations()
def m013_supervision_deadlines(db: Database) -> None:
    # Supervision without sweeps (central/supervision.py): each pass reads the devices whose
    # status changed since the last pass and those not up, never the whole fleet.
    _run(db, """
CREATE INDEX supervision_changed ON supervision (changed_at);
CREATE INDEX supervision_state ON supervision (state)
""")
