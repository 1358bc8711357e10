"""Transactions for use cases that write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import insert as generic_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, scoped_session

from ..core.database import WRITE, writer_turn
from ..core.driver_sql import DriverStatement, Written


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
    statement) cost more than they are worth there. The connection is taken
    from the pool before SQLite's writer turn and given back after it, so
    that the turn (one writer at a time) lasts only as long as the transaction.
    """
    with engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        with writer_turn(engine), conn.begin():
            yield conn


@contextmanager
def autocommit(conn: Connection) -> Iterator[Connection]:
    """PostgreSQL: each statement in the block commits by itself, so none costs
    a BEGIN or COMMIT round trip. The connection must not be in a transaction.

    Set with psycopg's own `autocommit` attribute on the driver's connection:
    SQLAlchemy's `isolation_level` execution option would cost three times as
    much to set and to reset. SQLAlchemy still counts the block as a (logical)
    transaction, which is ended here; psycopg sends nothing for it.
    """
    driver = conn.connection.dbapi_connection
    if conn.in_transaction():
        raise RuntimeError("autocommit() inside a transaction")
    driver.autocommit = True
    try:
        yield conn
        conn.commit()  # SQLAlchemy's bookkeeping only: psycopg has no transaction to end
    finally:
        if conn.in_transaction():
            conn.rollback()
        if not driver.closed:  # a dead connection is discarded anyway
            driver.autocommit = False


def write(conn: Connection, statement, params: dict) -> Written:
    """Run a Core INSERT or UPDATE that returns no rows; its rowcount, and on
    SQLite the lastrowid.

    Compiled once and run on the driver's cursor (driver_sql.py): the
    per-call work of `Connection.execute` costs more than a small
    statement's own (on SQLite all of it inside the writer's turn). Column
    defaults computed in Python are not applied: give every value.
    """
    return DriverStatement(statement).write(conn, params)


def inserted_id(conn: Connection, statement, params: dict) -> int | None:
    """The id of the row an INSERT (without RETURNING) wrote; None if it wrote none
    (INSERT ... ON CONFLICT DO NOTHING that met a conflict).

    SQLite: the cursor's `lastrowid`, as a SQLite RETURNING costs about as
    much as the insert itself. PostgreSQL: the same statement with RETURNING
    id. Both run on the driver's cursor, as `write`.
    """
    if conn.dialect.name == "sqlite":
        result = write(conn, statement, params)
        return result.lastrowid if result.rowcount == 1 else None
    returning = _returning_id.get(statement)
    if returning is None:
        returning = _returning_id[statement] = DriverStatement(statement.returning(statement.table.c.id))
    rows = returning.all(conn, params)
    return rows[0][0] if rows else None


_returning_id: dict = {}  # INSERT statement -> the same with RETURNING id (built once each)


def insert_ignoring_conflicts(bind: Connection | Engine, model):
    """INSERT ... ON CONFLICT DO NOTHING for the connection's database."""
    dialect = bind.dialect.name
    if dialect == "postgresql":
        return pg_insert(model).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite_insert(model).on_conflict_do_nothing()
    return generic_insert(model)
