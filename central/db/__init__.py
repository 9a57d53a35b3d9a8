"""Central's SQLite database: connections, schema, the one writer and the readers.

* :mod:`central.db.connection`: :func:`open_db`, :func:`write_tx`, :func:`query_one`,
  the timestamp format and the durability settings;
* :mod:`central.db.schema`: the versioned migrations;
* :mod:`central.db.writer`: :class:`Writer`, the one thread that writes;
* :mod:`central.db.group`: :class:`GroupCommit`, many small jobs in one transaction;
* :mod:`central.db.readers`: :class:`Readers`, reads off the event loop.
"""

from central.db.connection import (
    BUSY_TIMEOUT_S,
    DEAD_LETTER_MAX_BYTES,
    OPEN_STATUSES,
    after_commit,
    iso,
    observe_commits,
    open_db,
    parse_iso,
    query_one,
    sync_wal,
    without_fsync,
    write_tx,
)
from central.db.group import GroupCommit
from central.db.readers import Readers
from central.db.schema import migrations
from central.db.writer import Writer, WriterClosed

__all__ = [
    "BUSY_TIMEOUT_S",
    "DEAD_LETTER_MAX_BYTES",
    "GroupCommit",
    "OPEN_STATUSES",
    "Readers",
    "Writer",
    "WriterClosed",
    "after_commit",
    "iso",
    "migrations",
    "observe_commits",
    "open_db",
    "parse_iso",
    "query_one",
    "sync_wal",
    "without_fsync",
    "write_tx",
]
