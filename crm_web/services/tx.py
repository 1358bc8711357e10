"""Transactions for use cases that write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import insert as generic_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, CursorResult, Engine
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
    statement) cost about a tenth of a webhook call. The connection is taken
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


def write(conn: Connection, statement, params: dict) -> CursorResult:
    """Run a Core INSERT or UPDATE that returns no rows; its result (rowcount,
    and on SQLite the lastrowid).

    On SQLite its SQL is compiled once per set of parameter names, with
    SQLAlchemy's public compiler API (`compile()`, the compiled statement's
    `binds` and `positiontup`, each type's `bind_processor`), and run with
    `Connection.exec_driver_sql`: SQLAlchemy still executes it (events,
    errors wrapped, a dead connection noticed). What this leaves out is the
    per-call work of `Connection.execute` for a cached statement (binding
    the parameters, setting up the result), which for a small write costs
    more than SQLite's own work, and all of it inside SQLite's writer turn:
    bench/cpu, 3.82 -> 3.54 M instructions per webhook call. On PostgreSQL
    `Connection.execute` itself is cheaper (bench/cpu: 3.27 against 3.37 M).
    Column defaults computed in Python are not applied: give every value.
    """
    dialect = conn.dialect
    if dialect.name != "sqlite":
        return conn.execute(statement, params)
    key = (statement, *sorted(params))
    compiled = _writes.get(key)
    if compiled is None:
        compiled = _writes[key] = _CompiledWrite(statement, dialect, sorted(params))
    return conn.exec_driver_sql(compiled.sql, compiled.parameters(params))


class _CompiledWrite:
    __slots__ = ("sql", "names", "positional", "steps")

    def __init__(self, statement, dialect, names: list[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=names)
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError(f"give every value (no defaults computed in Python): {compiled.string}")
        self.sql = compiled.string
        self.positional = dialect.positional
        self.names = list(compiled.positiontup) if self.positional else list(compiled.binds)
        self.steps = []  # per parameter: (name given by the caller or None, literal, processor)
        for name in self.names:
            bind = compiled.binds[name]
            if name not in names and bind.required:
                raise ValueError(f"no value for {name!r}: {compiled.string}")
            given = name if name in names else None
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self.steps.append((given, None if given else bind.effective_value, processor))

    def parameters(self, params: dict):
        values = []
        for given, literal, processor in self.steps:
            value = params[given] if given else literal
            values.append(processor(value) if processor else value)
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


_writes: dict[tuple, _CompiledWrite] = {}


def inserted_id(conn: Connection, statement, params: dict) -> int | None:
    """The id of the row an INSERT (without RETURNING) wrote; None if it wrote none
    (INSERT ... ON CONFLICT DO NOTHING that met a conflict).

    SQLite: the cursor's `lastrowid`, as SQLAlchemy's handling of a SQLite
    RETURNING (its rows fetched and buffered first) costs about as much as
    the insert itself. PostgreSQL: the same statement with RETURNING id.
    """
    if conn.dialect.name == "sqlite":
        result = write(conn, statement, params)
        return result.lastrowid if result.rowcount == 1 else None
    returning = _returning_id.get(statement)
    if returning is None:
        returning = _returning_id[statement] = statement.returning(statement.table.c.id)
    return conn.execute(returning, params).scalar()


_returning_id: dict = {}  # INSERT statement -> the same with RETURNING id (built once each)


def insert_ignoring_conflicts(bind: Connection | Engine, model):
    """INSERT ... ON CONFLICT DO NOTHING for the connection's database."""
    dialect = bind.dialect.name
    if dialect == "postgresql":
        return pg_insert(model).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite_insert(model).on_conflict_do_nothing()
    return generic_insert(model)
