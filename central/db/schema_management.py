"""Issue 15's migrations: one-key management and assessment (一键式管理 / 一键式考评).

Registered on the same :data:`central.db.schema.migrations` (imported by
:mod:`central.db.connection`), after :mod:`central.db.schema` and
:mod:`central.db.schema_operations`.
"""

from __future__ import annotations

import logging

from sqlite_utils import Database

from central.db import schema_operations
from central.db.schema import _run, migrations

_ = schema_operations  # m009-m013 register before these

logger = logging.getLogger(__name__)

#: every role the users table accepts (central/auth/permissions.py: Role)
_ROLES = ("'admin', 'county_command', 'station_leader', 'duty_officer', 'installer', "
          "'auditor', 'viewer', 'inspector', 'village_assistant', 'venue_manager'")
_NODE_KINDS = "'root', 'city', 'county', 'station', 'office', 'village', 'venue'"


@migrations()
def m014_management(db: Database) -> None:
    """Villages with fire zones, liaison points, volunteer teams and drills; checklists,
    plans, inspections, photos, hazards and their timeline, rectification notices, proofs,
    penalty cases, fire investigations, telemetry rules and versioned score rules."""
    _run(db, """
CREATE TABLE villages (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    station_id TEXT NOT NULL REFERENCES stations(id),
    office_id TEXT REFERENCES police_offices(id)
);
ALTER TABLE venues ADD COLUMN village_id TEXT REFERENCES villages(id);
CREATE TABLE fire_zones (
    id INTEGER PRIMARY KEY,
    village_id TEXT NOT NULL REFERENCES villages(id),
    name TEXT NOT NULL,
    area TEXT NOT NULL DEFAULT ''
);
CREATE TABLE liaison_points (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations(id),
    village_id TEXT REFERENCES villages(id),
    name TEXT NOT NULL,
    contact TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT ''
);
CREATE TABLE volunteer_teams (
    id INTEGER PRIMARY KEY,
    village_id TEXT NOT NULL REFERENCES villages(id),
    name TEXT NOT NULL
);
CREATE TABLE team_members (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES volunteer_teams(id),
    name TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT ''
);
CREATE TABLE drills (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations(id),
    team_id INTEGER REFERENCES volunteer_teams(id),
    venue_id TEXT REFERENCES venues(id),
    kind TEXT NOT NULL CHECK (kind IN ('drill', 'patrol')),
    held_at TEXT NOT NULL,
    participants INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL
);
CREATE TABLE checklists (
    id INTEGER PRIMARY KEY,
    station_id TEXT REFERENCES stations(id),
    category TEXT NOT NULL,
    version INTEGER NOT NULL,
    items TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (station_id, category, version)
);
CREATE TABLE inspection_plans (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations(id),
    venue_id TEXT NOT NULL REFERENCES venues(id),
    every_days INTEGER NOT NULL CHECK (every_days > 0),
    inspectors TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (station_id, venue_id)
);
CREATE TABLE inspections (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations(id),
    venue_id TEXT NOT NULL REFERENCES venues(id),
    checklist_id INTEGER REFERENCES checklists(id),
    kind TEXT NOT NULL CHECK (kind IN ('routine', 'reinspection')),
    inspected_at TEXT NOT NULL,
    place TEXT NOT NULL,
    inspectors TEXT NOT NULL,
    results TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '',
    notice_id INTEGER,
    passed INTEGER,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX inspections_station_at ON inspections (station_id, inspected_at);
CREATE TABLE inspection_signatures (
    inspection_id INTEGER NOT NULL REFERENCES inspections(id),
    username TEXT NOT NULL,
    confirmed_at TEXT NOT NULL,
    PRIMARY KEY (inspection_id, username)
);
CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    station_id TEXT NOT NULL REFERENCES stations(id),
    venue_id TEXT NOT NULL REFERENCES venues(id),
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);
CREATE INDEX photos_owner ON photos (owner);
CREATE TABLE hazards (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations(id),
    venue_id TEXT NOT NULL REFERENCES venues(id),
    source TEXT NOT NULL CHECK (source IN ('inspection', 'direct', 'telemetry')),
    inspection_id INTEGER REFERENCES inspections(id),
    item_code TEXT,
    rule_code TEXT,
    severity TEXT NOT NULL CHECK (severity IN ('general', 'major')),
    description TEXT NOT NULL,
    location TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('open', 'noticed', 'closed')),
    evidence TEXT NOT NULL DEFAULT '[]',
    found_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    closed_at TEXT,
    closed_by TEXT
);
CREATE INDEX hazards_station_found ON hazards (station_id, found_at);
CREATE UNIQUE INDEX hazards_one_open_per_rule ON hazards (venue_id, rule_code)
    WHERE rule_code IS NOT NULL AND status != 'closed';
CREATE TABLE hazard_events (
    id INTEGER PRIMARY KEY,
    hazard_id INTEGER NOT NULL REFERENCES hazards(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX hazard_events_hazard ON hazard_events (hazard_id);
CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations(id),
    venue_id TEXT NOT NULL REFERENCES venues(id),
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    number TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('immediate', 'deadline')),
    deadline TEXT,
    status TEXT NOT NULL CHECK (status IN ('issued', 'proof_submitted', 'closed')),
    issued_at TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    escalated_at TEXT,
    closed_at TEXT,
    closed_on_time INTEGER,
    UNIQUE (station_id, year, seq)
);
CREATE INDEX notices_station_issued ON notices (station_id, issued_at);
CREATE TABLE notice_hazards (
    notice_id INTEGER NOT NULL REFERENCES notices(id),
    hazard_id INTEGER NOT NULL REFERENCES hazards(id),
    PRIMARY KEY (notice_id, hazard_id)
);
CREATE TABLE notice_proofs (
    id INTEGER PRIMARY KEY,
    notice_id INTEGER NOT NULL REFERENCES notices(id),
    text TEXT NOT NULL,
    photos TEXT NOT NULL DEFAULT '[]',
    reinspection_requested INTEGER NOT NULL DEFAULT 0,
    submitted_by TEXT NOT NULL,
    submitted_at TEXT NOT NULL
);
CREATE TABLE penalties (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations(id),
    venue_id TEXT NOT NULL REFERENCES venues(id),
    notice_id INTEGER REFERENCES notices(id),
    status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected', 'decided')),
    proposal TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    approved_by TEXT,
    approved_at TEXT,
    decision TEXT CHECK (decision IS NULL OR decision IN ('warning', 'fine')),
    amount_yuan INTEGER,
    decided_by TEXT,
    decided_at TEXT
);
CREATE INDEX penalties_station_proposed ON penalties (station_id, proposed_at);
CREATE TABLE fire_investigations (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations(id),
    venue_id TEXT NOT NULL REFERENCES venues(id),
    incident_id INTEGER REFERENCES incidents(id),
    investigated_at TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE telemetry_rules (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    description TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE score_rules (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL CHECK (subject IN ('venue', 'station', 'village')),
    version INTEGER NOT NULL,
    weights TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (subject, version)
);
CREATE TABLE scores (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    period TEXT NOT NULL,
    rule_id INTEGER NOT NULL REFERENCES score_rules(id),
    inputs TEXT NOT NULL,
    lines TEXT NOT NULL,
    score REAL NOT NULL,
    computed_at TEXT NOT NULL,
    UNIQUE (subject, subject_id, period, rule_id)
)
""")


@migrations(transactional=False)
def m015_management_roles(db: Database) -> None:
    """The users table accepts the roles ``inspector``, ``village_assistant`` and
    ``venue_manager`` and the tree nodes ``village`` and ``venue``.

    SQLite cannot change a CHECK constraint: the table is rebuilt with foreign keys off
    (only possible outside a transaction), in one transaction of its own.
    """
    db.execute("PRAGMA foreign_keys=OFF")
    try:
        db.execute("BEGIN IMMEDIATE")
        columns = [r[1] for r in db.execute("PRAGMA table_info(users)").fetchall()]
        sql = str(db.execute("SELECT sql FROM sqlite_master WHERE name = 'users'")
                  .fetchone()[0])
        head, _, rest = sql.partition("role TEXT NOT NULL CHECK (role IN (")
        _, _, rest = rest.partition("))")
        sql = f"{head}role TEXT NOT NULL CHECK (role IN ({_ROLES})){rest}"
        head, _, rest = sql.partition("node_kind TEXT NOT NULL CHECK (node_kind IN (")
        _, _, rest = rest.partition("))")
        sql = f"{head}node_kind TEXT NOT NULL CHECK (node_kind IN ({_NODE_KINDS})){rest}"
        sql = sql.replace("CREATE TABLE users", "CREATE TABLE users_new", 1)
        db.execute(sql)
        names = ", ".join(columns)
        db.execute(f"INSERT INTO users_new ({names}) SELECT {names} FROM users")
        db.execute("DROP TABLE users")
        db.execute("ALTER TABLE users_new RENAME TO users")
        broken = db.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"users rebuild broke foreign keys: {broken[:5]}")
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.execute("PRAGMA foreign_keys=ON")

