"""Engine tuning per database: SQLite pragmas and write transactions."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine

# Execution option asking for a write transaction from its first statement.
WRITE = "crm_write"


def engine_options(uri: str, pool_size: int) -> dict:
    if uri.startswith("sqlite"):
        # One connection per thread is plenty; SQLite serialises writers anyway.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {
        "pool_size": pool_size,
        "max_overflow": pool_size * 2,
        "pool_pre_ping": True,
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
        if conn.get_execution_options().get(WRITE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
