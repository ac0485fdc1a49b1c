"""The database under the models, whatever they are: transactions that raise the real
write error, telling a full partition, WAL checkpoints, and creating tables when several
processes start at once. Used by the lap service's store, the API's own tables and the
central archive.
"""

from __future__ import annotations

import contextlib
import errno

from peewee import Database, Model, OperationalError, SqliteDatabase

BUSY_MS = 5000
WAL_LIMIT = 4 * 1024 * 1024
SQLITE_FULL = 13  # sqlite3's error code for "database or disk is full"


@contextlib.contextmanager
def atomic(db: Database):
    """``db.atomic()``, with the real error when a write fails.

    On a full disk (or an I/O error) SQLite may roll the transaction back itself; the
    rollback peewee then sends fails with "cannot rollback - no transaction is active",
    and that error, not the cause, would reach the caller.
    """
    try:
        with db.atomic():
            yield
    except OperationalError as exc:
        cause = storage_cause(exc)
        if cause is exc:
            raise
        raise cause.with_traceback(cause.__traceback__) from None


def storage_cause(exc: BaseException) -> BaseException:
    """The error behind ``exc``: past the failed rollbacks that follow a write error."""
    while "no transaction is active" in str(exc) and exc.__context__ is not None:
        exc = exc.__context__
    return exc


def is_full(exc: BaseException) -> bool:
    """Did the write fail because the partition is full?"""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlite_errorcode", None) == SQLITE_FULL \
                or getattr(seen, "errno", None) == errno.ENOSPC \
                or "database or disk is full" in str(seen):
            return True
        seen = seen.__context__
    return False


def checkpoint(db: Database, busy_ms: int = 200) -> tuple[int, int, int] | None:
    """Copy the WAL into the database and truncate the WAL file (SQLite only).

    Returns SQLite's (busy, WAL frames, frames checkpointed); busy is 1 if a reader kept
    it from finishing (it is done next time). Waits at most ``busy_ms`` for readers, so
    the lap service's loop is never held up for long.
    """
    if not isinstance(db, SqliteDatabase):
        return None
    db.execute_sql(f"PRAGMA busy_timeout = {int(busy_ms)}")
    try:
        row = db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        db.execute_sql(f"PRAGMA busy_timeout = {BUSY_MS}")
    return tuple(row) if row else None


def create_tables(db: Database, models: list[type[Model]]) -> None:
    """Create the missing tables. On PostgreSQL several processes may start at once (API
    replicas, the archive writer): one at a time, under an advisory lock, or two would
    create the same index and one fail."""
    if isinstance(db, SqliteDatabase):
        db.create_tables(models, safe=True)
        return
    with db.atomic():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        db.create_tables(models, safe=True)


SCHEMA_LOCK = 0x70697477  # "pitw": the advisory lock id of schema changes
