"""Issue 18's per-venue caps on live video: bandwidth and resolution, in the registry.

Registered on the same :data:`central.db.schema.migrations` (imported by
:mod:`central.db.connection`), after :mod:`central.db.schema_limits`.
"""

from __future__ import annotations

from sqlite_utils import Database

from central.db import schema_limits
from central.db.schema import _run, migrations

_ = schema_limits  # m017 registers before these


@migrations()
def m018_venue_av_caps(db: Database) -> None:
    """The registry's ``av_max_kbps`` and ``av_max_height`` of a venue (NULL: no cap);
    central sends them with each live session's offer (central/av.py)."""
    _run(db, """
ALTER TABLE venues ADD COLUMN av_max_kbps INTEGER;
ALTER TABLE venues ADD COLUMN av_max_height INTEGER
""")
