"""Transactions for use cases that write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import insert as generic_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, scoped_session

from ..database import WRITE, writer_turn


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """Run the block as one write transaction; commit, or roll back on error.

    On SQLite it starts with BEGIN IMMEDIATE, so the reads inside it see the
    latest data and the later write can never fail with a stale snapshot.
    Whatever the session read before belongs to the same transaction on
    PostgreSQL (it must not have written anything).
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction() and session.get_bind().dialect.name == "sqlite":
        # End a read-only transaction left open by an earlier look-up: SQLite
        # needs a new one that starts with BEGIN IMMEDIATE. PostgreSQL just
        # carries on in it (at READ COMMITTED every statement sees the latest
        # commits), which saves a COMMIT, a BEGIN and a pool round trip.
        session.commit()
    with writer_turn(session.get_bind()):
        if not session.in_transaction():
            session.connection(execution_options={WRITE: True})
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """The same write transaction as `write_transaction`, on a Core connection.

    For the webhook, whose statements are all Core: the ORM session's
    transaction bookkeeping (and its `connection()` look-up before every
    statement) cost about a tenth of a webhook call.
    """
    with writer_turn(engine), engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        with conn.begin():
            yield conn


@contextmanager
def autocommit(conn: Connection) -> Iterator[Connection]:
    """PostgreSQL: each statement in the block commits by itself, so none
    costs a BEGIN or COMMIT round trip. Only for statements run through
    services/prepared.py, which never open a SQLAlchemy transaction; the
    connection must not be in one. Set on the driver's connection: the
    `isolation_level` execution option would cost three times as much to set
    and to reset (the psycopg dialect sets the level and autocommit each time).
    """
    from psycopg.pq import TransactionStatus

    driver = conn.connection.dbapi_connection
    if conn.in_transaction() or driver.info.transaction_status != TransactionStatus.IDLE:
        raise RuntimeError("autocommit() inside a transaction")
    driver.autocommit = True
    try:
        yield conn
    finally:
        if not driver.closed:  # a dead connection is discarded anyway
            driver.autocommit = False


def insert_ignoring_conflicts(bind: Connection | Engine, model):
    """INSERT ... ON CONFLICT DO NOTHING for the connection's database."""
    dialect = bind.dialect.name
    if dialect == "postgresql":
        return pg_insert(model).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite_insert(model).on_conflict_do_nothing()
    return generic_insert(model)
