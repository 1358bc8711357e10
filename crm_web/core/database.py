"""Engine tuning per database: SQLite pragmas and write transactions."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from .driver_sql import DriverStatement

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's busy handler alone then
    fcntl = None

# Execution option asking for a write transaction from its first statement.
WRITE = "crm_write"


def engine_options(uri: str, pool_size: int) -> dict:
    if uri.startswith("sqlite"):
        # One connection per thread is plenty; SQLite serialises writers anyway.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # No pool_pre_ping: it costs a round trip on every checkout, i.e. every
    # request. A connection that died (server restart) fails its first
    # statement instead; SQLAlchemy then discards the whole pool, the webhook
    # retries once (nothing was written, see services/intake.py) and other
    # requests answer 503 with Retry-After.
    # pool_recycle keeps connections younger than idle-timeouts on the way.
    return {
        # A database host that drops packets must not hang a request until
        # gunicorn's timeout: fail the connect after 5 s (answered with 503).
        "connect_args": {"connect_timeout": 5},
        "pool_size": pool_size,
        "max_overflow": pool_size * 2,
        "pool_recycle": 1800,
    }


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Take over BEGIN from pysqlite so we can choose DEFERRED or IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        # A deferred transaction that later writes fails with SQLITE_BUSY
        # (no wait) if another writer committed since its snapshot; use cases
        # that write therefore take the write lock up front.
        # On the driver's cursor: `exec_driver_sql` costs a tenth of a write request.
        (_BEGIN_IMMEDIATE if conn.get_execution_options().get(WRITE) else _BEGIN).write(conn, {})


_BEGIN = DriverStatement(text("BEGIN"))
_BEGIN_IMMEDIATE = DriverStatement(text("BEGIN IMMEDIATE"))
_turn = threading.local()


def _lock_path(engine: Engine) -> str | None:
    if fcntl is None or engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}.write-lock"


@contextmanager
def writer_turn(engine: Engine) -> Iterator[None]:
    """On SQLite, wait for the write lock in the kernel, not in SQLite.

    SQLite serialises writers; a writer that finds the database locked
    sleeps in its busy handler for 1, 2, 5, 10, ... ms before trying again,
    so under load most of the time goes to sleeping while the lock is
    already free. Taking an exclusive flock() on a file next to the
    database before BEGIN IMMEDIATE queues the app's writers (processes and
    threads alike) in the kernel, which wakes the next one the moment the
    previous one commits. Other writers (a CLI, a script) still meet the
    busy timeout as before. Nothing to do on PostgreSQL.
    """
    path = _lock_path(engine)
    if path is None or getattr(_turn, "held", False):
        yield
        return
    fd = _lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _turn.held = True
        yield
    finally:
        _turn.held = False
        fcntl.flock(fd, fcntl.LOCK_UN)


class _LockFile:
    """This thread's open lock file: flock() excludes other open files, so each thread (and each
    process, after a fork) has one of its own; kept open, as opening it costs more than the lock.
    Mutual exclusion is only an optimisation here: SQLite's BEGIN IMMEDIATE is what guarantees it."""

    def __init__(self, path: str) -> None:
        self.path, self.pid = path, os.getpid()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __del__(self) -> None:  # the thread ended, or another file (or process) replaced it
        os.close(self.fd)


def _lock_file(path: str) -> int:
    held = getattr(_turn, "file", None)
    if held is None or held.path != path or held.pid != os.getpid():
        _turn.file = None  # closes the old one first (tests switch databases)
        _turn.file = _LockFile(path)
    return _turn.file.fd
