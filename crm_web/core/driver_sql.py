"""Core statements compiled once and run as SQL strings on the driver.

`Connection.execute` builds an execution context, processes parameters and
wraps the result for every statement; for the intake's few small statements
that costs more than the database's own work (docs/performance.md). A
statement here is still defined once in SQLAlchemy Core, for both
databases, and compiled with SQLAlchemy's public compiler API (`compile()`,
the compiled statement's `binds` and `positiontup`, each type's
`bind_processor`), once per database and set of parameter names. Then
`DriverStatement` runs it on the DBAPI cursor of the caller's connection
(sqlite3's `cursor().execute`; on PostgreSQL psycopg's `RawCursor`, with the
statement compiled to PostgreSQL's own `$1` placeholders, so that psycopg
need not parse the query on each call: it caches that only for queries
under 4 KB, which the at-once statement is not), inside the caller's
transaction. `all` answers the driver's rows as they come: only for columns
the driver already returns as the app wants them (integers, text, booleans,
and NUMERIC as Decimal on psycopg); `write` the rows written and SQLite's
`lastrowid`. A driver error is wrapped as SQLAlchemy's `DBAPIError`, and a
dead connection invalidated with the rest of the pool, as `execute` would;
functions in `statement_hooks` see each statement before it runs, as
SQLAlchemy's `before_cursor_execute` listeners see the others.

Column defaults computed in Python are not applied (give every value), and
expanding IN parameters are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import psycopg
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

_TUPLES_OK = psycopg.pq.ExecStatus.TUPLES_OK

# Each called as hook(connection, statement, {name: value}) before a
# DriverStatement runs; the tests use it as they use SQLAlchemy's events.
statement_hooks: list[Callable[[Connection, str, Any], None]] = []


class _Compiled:
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
            if bind.expanding:
                raise ValueError(f"expanding IN parameter {name!r}: use Connection.execute")
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


_compiled: dict[tuple, _Compiled] = {}
_dollar_dialects: dict[type, Any] = {}


def compiled_for(conn: Connection, statement, params: dict, native: bool = False) -> _Compiled:
    """The statement compiled for the connection's database; `native`: with PostgreSQL's $n."""
    key = (statement, conn.dialect.name, native, *sorted(params))
    compiled = _compiled.get(key)
    if compiled is None:
        dialect = _dollar_dialect(conn.dialect) if native else conn.dialect
        compiled = _compiled[key] = _Compiled(statement, dialect, sorted(params))
    return compiled


def _dollar_dialect(dialect):
    """The connection's PostgreSQL dialect, compiling to `$1` placeholders."""
    cls = type(dialect)
    if cls not in _dollar_dialects:
        _dollar_dialects[cls] = cls(paramstyle="numeric_dollar")
    return _dollar_dialects[cls]


class DriverStatement:
    """A Core statement run on the driver's cursor (see the module's docstring)."""

    __slots__ = ("statement",)

    def __init__(self, statement) -> None:
        self.statement = statement

    def sql(self, conn: Connection, params: dict) -> str:
        """The SQL string as it is sent for these parameter names."""
        return compiled_for(conn, self.statement, params, _native(conn)).sql

    def all(self, conn: Connection, params: dict) -> list[tuple]:
        return self._run(conn, params, _fetch_all)

    def write(self, conn: Connection, params: dict) -> Written:
        """Run an INSERT, UPDATE or DELETE that returns no rows: rows written, and the
        id of the row inserted (SQLite's `lastrowid`; None on PostgreSQL)."""
        return self._run(conn, params, _written)

    def write_many(self, conn: Connection, rows: list[dict]) -> None:
        """Run an INSERT or UPDATE once per row, in one call of the driver's `executemany`
        (psycopg pipelines them: one round trip); every row with the same names."""
        native = _native(conn)
        compiled = compiled_for(conn, self.statement, rows[0], native)
        parameters = [compiled.parameters(row) for row in rows]

        def execute_many(cursor, sql, all_parameters):
            cursor.executemany(sql, all_parameters)

        self._execute(conn, compiled, parameters, native, execute_many)

    def insert_many(self, conn: Connection, rows: list[dict]) -> None:
        """Run a plain INSERT (no RETURNING, no ON CONFLICT) for every row: on PostgreSQL one
        COPY FROM STDIN (a third less of the server's time per row than a pipelined INSERT),
        elsewhere `write_many`."""
        if not _native(conn):
            self.write_many(conn, rows)
            return
        compiled = compiled_for(conn, self.statement, rows[0], native=True)
        quote = conn.dialect.identifier_preparer.quote
        sql = f"COPY {quote(self.statement.table.name)} ({', '.join(map(quote, compiled.names))}) FROM STDIN"
        parameters = [compiled.parameters(row) for row in rows]

        def copy(cursor, sql, all_parameters):
            with cursor.copy(sql) as stream:
                for values in all_parameters:
                    stream.write_row(values)

        self._execute(conn, compiled, parameters, True, copy, sql=sql)

    def _run(self, conn: Connection, params: dict, answer: Callable):
        native = _native(conn)
        compiled = compiled_for(conn, self.statement, params, native)

        def execute(cursor, sql, parameters):
            cursor.execute(sql, parameters)
            return answer(cursor)

        return self._execute(conn, compiled, [compiled.parameters(params)], native, execute, one=True)

    def _execute(
        self, conn: Connection, compiled, parameters: list, native: bool, run: Callable, one=False, sql=None
    ):
        sql = sql or compiled.sql
        if statement_hooks:
            for values in parameters:
                named = dict(zip(compiled.names, values, strict=True)) if compiled.positional else values
                for hook in statement_hooks:
                    hook(conn, sql, named)
        parameters = parameters[0] if one else parameters
        dbapi_connection = conn.connection.dbapi_connection
        cursor = psycopg.RawCursor(dbapi_connection) if native else dbapi_connection.cursor()
        try:
            return run(cursor, sql, parameters)
        except conn.dialect.loaded_dbapi.Error as error:
            dead = conn.dialect.is_disconnect(error, dbapi_connection, cursor)
            if dead:  # as SQLAlchemy does: the pool's other connections died with it
                conn.invalidate(error)
                conn.engine.dispose(close=False)
            raise DBAPIError.instance(
                sql, parameters, error, conn.dialect.loaded_dbapi.Error,
                connection_invalidated=dead, dialect=conn.dialect,
            ) from error
        finally:
            cursor.close()

    def one(self, conn: Connection, params: dict) -> tuple:
        rows = self.all(conn, params)
        if len(rows) != 1:
            raise ValueError(f"expected one row, got {len(rows)}")
        return rows[0]


class Written(NamedTuple):
    rowcount: int
    lastrowid: int | None


def _fetch_all(cursor) -> list[tuple]:
    if isinstance(cursor, psycopg.Cursor):
        # Its `description` builds a Column per column on every access; the result's status says as much.
        result = cursor.pgresult
        return cursor.fetchall() if result is not None and result.status == _TUPLES_OK else []
    return cursor.fetchall() if cursor.description is not None else []


def _written(cursor) -> Written:
    return Written(cursor.rowcount, getattr(cursor, "lastrowid", None))


def _native(conn: Connection) -> bool:
    return conn.dialect.driver == "psycopg"
