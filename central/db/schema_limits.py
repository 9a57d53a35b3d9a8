"""Issue 11's migrations: dead letters capped per device and pruned by age, with counts.

Registered on the same :data:`central.db.schema.migrations` (imported by
:mod:`central.db.connection`), after :mod:`central.db.schema_av`.
"""

from __future__ import annotations

from sqlite_utils import Database

from central.db import schema_av
from central.db.schema import _run, migrations

_ = schema_av  # m016 registers before these


@migrations()
def m017_dead_letter_limits(db: Database) -> None:
    # Dead letters capped per device and pruned by age, with counts kept
    # (central/dead_letters.py, [limits] in central/limits_config.py).
    _run(db, """
CREATE INDEX dead_letters_device ON dead_letters (device_id, id);
CREATE TABLE dead_letter_counts (
    device_key TEXT PRIMARY KEY,
    received INTEGER NOT NULL DEFAULT 0,
    not_stored INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    last_at TEXT
)
""")
