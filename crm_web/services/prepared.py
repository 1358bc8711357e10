"""Core statements for the intake's hot path, compiled once and run on the driver's cursor.

`Connection.execute()` costs about 35 µs of Python per statement before
the driver sees it (execution context, parameter processing, result
wrapping) — more than SQLite needs to run the statement, and, with five
statements, about a sixth of a webhook call. A `Prepared` keeps the
statement defined in SQLAlchemy Core (one definition for both databases,
the models' column types applied to parameters and results) but compiles
it once per database and set of parameter names, then hands the SQL
string and the processed values straight to the DBAPI cursor of the
caller's SQLAlchemy connection, inside the caller's transaction.

What the engine does for any statement still happens: the
before/after_cursor_execute events fire (the tests count and fault
statements with them), and a driver error goes through the connection's
own handler, so it is wrapped as a `DBAPIError` and a dead connection is
invalidated exactly as with `execute()`.

Not handled (use `execute()` for those): Python-side column defaults,
expanding IN parameters, executemany.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement


class _Compiled:
    __slots__ = ("sql", "names", "positional", "steps", "result_types", "result_processors")

    def __init__(self, statement: ClauseElement, connection: Connection, keys: list[str]) -> None:
        compiled = statement.compile(dialect=connection.dialect, column_keys=keys)
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError(f"give every value (no Python-side defaults here): {compiled.string}")
        self.sql = compiled.string
        self.positional = compiled.positional
        self.names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        processors = compiled._bind_processors
        self.steps = []  # per parameter: (name given by the caller or None, literal, processor)
        for name in self.names:
            bind = compiled.binds[name]
            if name not in keys and bind.required:
                raise ValueError(f"no value for {name!r}: {compiled.string}")
            given = name if name in keys else None
            self.steps.append((given, None if given else bind.effective_value, processors.get(name)))
        self.result_types = [column[3] for column in compiled._result_columns]
        self.result_processors: list | None = None

    def parameters(self, params: dict[str, Any]):
        values = []
        for given, literal, processor in self.steps:
            value = params[given] if given else literal
            values.append(processor(value) if processor else value)
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))

    def rows(self, connection: Connection, cursor, rows: list[tuple]) -> list[tuple]:
        """The rows with the columns' result processing (e.g. NUMERIC as Decimal on SQLite)."""
        if self.result_processors is None:
            # The driver's column types are known once the statement has run
            # (PostgreSQL's NUMERIC processor needs them).
            self.result_processors = [
                type_._cached_result_processor(connection.dialect, description[1])
                for type_, description in zip(self.result_types, cursor.description, strict=False)
            ]
        processors = self.result_processors
        if not rows or not any(processors):
            return rows
        return [
            tuple(p(value) if p else value for p, value in zip(processors, row, strict=False))
            for row in rows
        ]


_CURSOR = "crm_prepared_cursor"


def _cursor(connection: Connection):
    """One DBAPI cursor per DBAPI connection, kept for its lifetime.

    Creating a psycopg cursor for each statement costs about 10 µs; a
    cursor's results are replaced by its next execute, and every reader
    here fetches them before returning. Keyed by the DBAPI connection's
    identity: the pool record (and its `info`) outlives a connection that
    was invalidated and replaced. Dropped when a statement fails, since
    SQLAlchemy's error handling closes the cursor it was given.
    """
    fairy = connection.connection
    dbapi = fairy.dbapi_connection
    cached = fairy.info.get(_CURSOR)
    if cached is None or cached[0] is not dbapi:
        cached = fairy.info[_CURSOR] = (dbapi, dbapi.cursor())
    return cached[1]


def _forget_cursor(connection: Connection) -> None:
    connection.connection.info.pop(_CURSOR, None)


class Prepared:
    """One Core statement, run on the DBAPI cursor of a SQLAlchemy connection."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[tuple, _Compiled] = {}

    def _for(self, connection: Connection, params: dict[str, Any]) -> _Compiled:
        key = (connection.dialect.name, *sorted(params))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self.statement, connection, sorted(params))
        return compiled

    def run(self, connection: Connection, params: dict[str, Any]):
        """Execute; return (compiled statement, DBAPI cursor) for the readers below."""
        compiled = self._for(connection, params)
        sql = compiled.sql
        args = compiled.parameters(params)
        cursor = _cursor(connection)
        events = connection._has_events or connection.engine._has_events
        try:
            if events:
                for listener in connection.dispatch.before_cursor_execute:
                    sql, args = listener(connection, cursor, sql, args, None, False)
            cursor.execute(sql, args)
            if events:
                for listener in connection.dispatch.after_cursor_execute:
                    listener(connection, cursor, sql, args, None, False)
        except BaseException as exc:
            # The handler closes the cursor: the next statement gets a new one.
            _forget_cursor(connection)
            connection._handle_dbapi_exception(exc, sql, args, cursor, None)
        return compiled, cursor

    def execute(self, connection: Connection, params: dict[str, Any]) -> None:
        self.run(connection, params)

    def all(self, connection: Connection, params: dict[str, Any]) -> list[tuple]:
        """The rows of a statement that returns rows (a SELECT, or RETURNING)."""
        compiled, cursor = self.run(connection, params)
        # No `cursor.description` check: psycopg builds its column objects
        # anew on every access, about 20 µs a statement.
        return compiled.rows(connection, cursor, cursor.fetchall())

    def first(self, connection: Connection, params: dict[str, Any]) -> tuple | None:
        rows = self.all(connection, params)
        return rows[0] if rows else None

    def scalar(self, connection: Connection, params: dict[str, Any]):
        rows = self.all(connection, params)
        return rows[0][0] if rows else None
