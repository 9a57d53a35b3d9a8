"""The audit chain verified on PostgreSQL rows (a station copied by ``central export``).

The walk is :func:`central.audit.verify_rows`, the one SQLite's ``audit verify`` runs:
only the reading differs. Every audited column is TEXT on both backends, so a row hashes
to the same value wherever it is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from central.audit import ANCHOR_SQL, COLUMNS, PRUNE_ACTION, VerifyResult, anchor_of, verify_rows
from central.db.pg_dialect import qmark_to_pyformat

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)


def verify_pg(conn: psycopg.Connection[Any]) -> VerifyResult:
    """:func:`central.audit.verify` for the ``audit_log`` of a PostgreSQL database."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(qmark_to_pyformat(ANCHOR_SQL), [PRUNE_ACTION])
        anchor, prune_id = anchor_of(cur.fetchone())
    rows = _rows(conn)
    try:
        return verify_rows(rows, anchor, prune_id)
    finally:
        rows.close()  # a walk that stopped at a broken row ends its transaction now


def _rows(conn: psycopg.Connection[Any]) -> Generator[dict[str, Any], None, None]:
    from psycopg.rows import dict_row

    # a server-side cursor needs a transaction; 1000 rows per round trip
    with conn.transaction(), conn.cursor(name="audit_walk", row_factory=dict_row) as cur:
        cur.itersize = 1000
        cur.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY id")
        yield from cur
