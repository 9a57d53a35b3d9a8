"""Opening central's SQLite database, its write transaction, named-row queries, timestamps.

Durability choice: WAL with ``synchronous=FULL``. Central publishes the
``stored`` receipt right after a commit, and the device then deletes the event
from its outbox. With ``synchronous=NORMAL`` a WAL commit is not fsynced, so a
power cut could roll back an event the device has already forgotten: a lost
alarm. FULL costs one fsync per commit, a few milliseconds, far inside the
seconds an alarm may take. The one exception is :func:`without_fsync`: a batch of
nothing but heartbeats, whose rows the next heartbeat replaces anyway, commits without
its own fsync (the next FULL commit makes it durable too), so a fleet's burst of
heartbeats does not queue dozens of fsyncs in front of an alarm. Ingest's other batches
(events, status, results) also commit without it, and then call :func:`sync_wal` before
any receipt or PUBACK: the console's push goes out first (central/ingest.py).

The running central writes through ONE connection on ONE thread
(:class:`central.db.Writer`) and reads through connections opened with
``query_only=True`` (:class:`central.db.Readers`); the event loop thread never
touches SQLite. Tools and tests may open their own connection and write:
SQLite serialises writers, and :func:`write_tx` takes the write lock up front
(``BEGIN IMMEDIATE``) so two writers never deadlock on a lock upgrade.

Rows are read by name: :meth:`Database.query` and :func:`query_one` return
dicts, never tuples.
"""

from __future__ import annotations

import logging
import sqlite3
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from alarmlink.wal_sync import fsync_wal
from central.db import schema_av_caps
from central.db.schema import migrations

# the later migration modules register on the same object, in order: schema_operations,
# schema_management, schema_av, schema_limits, schema_av_caps (each imports the one
# before it)
_ = schema_av_caps

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 15.0
#: Raw bytes kept for a dead letter; the original size is stored beside them.
DEAD_LETTER_MAX_BYTES = 4096
OPEN_STATUSES = ("new", "acknowledged", "dispatched")


def iso(moment: datetime) -> str:
    """The one timestamp format in the database: UTC ISO 8601, milliseconds, ``Z``.

    Fixed width, so text comparison orders by time.
    """
    global _last_iso  # noqa: PLW0603 - a one-entry memory, replaced whole
    last = _last_iso
    if last[0] is moment:  # ingest formats each event's receipt time twice
        return last[1]
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)  # (ingest's is UTC)
    # isoformat truncates to milliseconds as the format always did; about 3x cheaper
    # than strftime, which showed up at a tenth of the writer's time under an alarm flood
    text = utc.isoformat(timespec="milliseconds")[:-6] + "Z"
    _last_iso = (moment, text)
    return text


#: The last moment :func:`iso` formatted (the same object), and its text.
_last_iso: tuple[datetime | None, str] = (None, "")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def open_db(path: Path | str, *, query_only: bool = False) -> Database:
    """Open (creating if needed) central's database file and apply pending migrations.

    ``query_only``: a connection that can only read (SQLite refuses any write on
    it); the schema must already exist, so migrations are left to the writer.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    db = Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    if query_only:
        db.execute("PRAGMA query_only=ON")
    else:
        migrations.apply(db)
    return db


#: A commit observer: called with None after a commit, with the error when one failed.
CommitObserver = Callable[[sqlite3.Error | None], None]
_observers: weakref.WeakKeyDictionary[Database, CommitObserver] = weakref.WeakKeyDictionary()


def observe_commits(db: Database, observer: CommitObserver) -> None:
    """Tell ``observer`` the outcome of every outermost :func:`write_tx` on ``db``.

    The writer uses it for ``/healthz`` (last commit, last error): ingest catches
    its own failures and dead-letters them, so a failed commit would otherwise not
    be seen outside the log.
    """
    _observers[db] = observer


def _tell(db: Database, outcome: sqlite3.Error | None) -> None:
    observer = _observers.get(db)
    if observer is not None:
        observer(outcome)


_deferred: weakref.WeakKeyDictionary[Database, list[Callable[[], object]]] = (
    weakref.WeakKeyDictionary())


def after_commit(db: Database, fn: Callable[[], object]) -> None:
    """Run ``fn`` once what was written on ``db`` is committed: now when no transaction
    is open, else after the outermost :func:`write_tx` commits (dropped if it rolls back).

    For effects others can see (receipts to devices, pushes to consoles): inside a group
    commit (:class:`central.db.GroupCommit`) a job's own ``write_tx`` is only a savepoint,
    and nothing may be announced before the whole group is durable.
    """
    if db.conn.in_transaction:
        _deferred.setdefault(db, []).append(fn)
    else:
        fn()


def _run_deferred(db: Database) -> None:
    for fn in _deferred.pop(db, ()):
        try:
            fn()
        except Exception:  # one failed announcement must not stop the others
            logger.exception("after-commit action %s failed", getattr(fn, "__qualname__", fn))


@contextmanager
def without_fsync(db: Database, relaxed: bool = True) -> Iterator[Database]:
    """Commits inside run with ``synchronous=NORMAL`` (no fsync; WAL keeps them consistent,
    a power cut may undo them). Only for writes that the next message replaces anyway."""
    if not relaxed:
        yield db
        return
    db.conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield db
    finally:
        db.conn.execute("PRAGMA synchronous=FULL")


_files: weakref.WeakKeyDictionary[Database, str] = weakref.WeakKeyDictionary()


def sync_wal(db: Database) -> None:
    """fsync ``db``'s write-ahead log: what was committed before (also under
    :func:`without_fsync`) is durable once this returns, as a ``synchronous=FULL`` commit
    would have made it. The WAL is written in order, so one fsync covers every earlier
    commit. Raises ``OSError`` when the disk refuses (nothing may then be acknowledged)."""
    path = _files.get(db)
    if path is None:
        path = _files[db] = db.conn.execute("PRAGMA database_list").fetchone()[2]
    if path:  # (an in-memory database: nothing to sync)
        fsync_wal(path)


@contextmanager
def write_tx(db: Database) -> Iterator[Database]:
    """A write transaction that takes SQLite's write lock at the start.

    Nested use falls back to a savepoint through :meth:`Database.atomic`.
    """
    conn = db.conn
    if conn.in_transaction:
        # A savepoint with one fixed name: nested ones refer to the innermost, and the
        # statements stay in SQLite's statement cache (sqlite_utils' atomic() names each
        # savepoint randomly, which compiles them anew every time).
        conn.execute("SAVEPOINT alarmlink_w")
        try:
            yield db
        except BaseException:
            if conn.in_transaction:  # an error may have ended the whole transaction
                conn.execute("ROLLBACK TO SAVEPOINT alarmlink_w")
                conn.execute("RELEASE SAVEPOINT alarmlink_w")
            raise
        conn.execute("RELEASE SAVEPOINT alarmlink_w")
        return
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        _tell(db, exc)
        raise
    try:
        yield db
    except BaseException as exc:
        _deferred.pop(db, None)
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            _tell(db, exc)
        raise
    try:
        db.conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _deferred.pop(db, None)
        _tell(db, exc)
        raise
    _tell(db, None)
    _run_deferred(db)


def query_one(db: Database, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
    """The first row of ``sql`` as a dict keyed by column name, or None."""
    cursor = db.execute(sql, list(params))
    try:
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cursor.description], row, strict=True))
    finally:
        cursor.close()
