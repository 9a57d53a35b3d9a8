"""Issue 18's migrations: recordings of live audio/video sessions kept as evidence.

Registered on the same :data:`central.db.schema.migrations` (imported by
:mod:`central.db.connection`), after :mod:`central.db.schema_management`.
"""

from __future__ import annotations

from sqlite_utils import Database

from central.db import schema_management
from central.db.schema import _run, migrations

_ = schema_management  # m014-m015 register before these


@migrations()
def m016_av_recordings(db: Database) -> None:
    """Issue 18: recordings of live sessions, uploaded by the agent in chunks
    (central/recordings.py). A row is ``partial`` until every chunk is in and the file's
    SHA-256 verified."""
    _run(db, """
CREATE TABLE av_recordings (
    session_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    opened_by TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    spoke_s REAL NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('partial', 'complete', 'rejected')),
    first_at TEXT NOT NULL,
    completed_at TEXT,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX av_recordings_incident ON av_recordings (incident_id);
CREATE TABLE av_recording_chunks (
    session_id TEXT NOT NULL REFERENCES av_recordings(session_id),
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID
""")
