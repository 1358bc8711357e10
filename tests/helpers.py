"""Helpers shared by the test packages: the JSON error shape, the CSRF token, SQL statements.

Fixtures are in tests/conftest.py; what a test imports is here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text

from crm_web.core import driver_sql
from crm_web.core.extensions import db

PASSWORD = "password-123"  # what tests/conftest.py's factory gives every staff user
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def assert_error(response, status: int, code: str | None = None, *, fields: set[str] | None = None) -> dict:
    """The documented JSON error of the webhook and /api/v1 with this status; returns `error`.

    `{"error": {"code", "message", "fields" (only and always on 422), "request_id"}}`;
    `code` and `fields` (the names of the fields in error), when given, must match too.
    """
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if status == 422:
        assert set(error) == {"code", "message", "fields", "request_id"}, error
        assert error["code"] == "validation_error", error
        assert isinstance(error["fields"], dict) and error["fields"], error
        for messages in error["fields"].values():
            assert isinstance(messages, list) and messages
            assert all(isinstance(m, str) and m for m in messages)
        if fields is not None:
            assert set(error["fields"]) == fields, error["fields"]
    else:
        assert set(error) == {"code", "message", "request_id"}, error
    if code is not None:
        assert error["code"] == code, error
    # The request's id, as in its X-Request-ID header and the logs.
    assert error["request_id"] and error["request_id"] == response.headers["X-Request-ID"], error
    return error


class StatementLog:
    """The SQL statements sent to the database, and the transactions begun, inside a block."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.transactions = 0

    def __len__(self) -> int:
        return len(self.statements)

    def __str__(self) -> str:
        return "\n".join(f"{i + 1}. {s.splitlines()[0][:120]}" for i, s in enumerate(self.statements))


@contextmanager
def recorded_statements(app, any_thread: bool = False) -> Iterator[StatementLog]:
    """Every statement that reaches the driver inside the block, transaction control included
    (SQLite's BEGIN IMMEDIATE, a SAVEPOINT); COMMIT is the driver's call, not a statement.
    Only the calling thread's (the test client's requests), unless `any_thread`: the app's own
    threads (the webhook deliveries' writer, services/deliveries.py) run when they will."""
    log = StatementLog()
    caller = threading.get_ident()

    def before_cursor_execute(_conn, _cursor, statement, _params, _context, _executemany):
        if any_thread or threading.get_ident() == caller:
            log.statements.append(statement)

    def begin(_conn):
        if any_thread or threading.get_ident() == caller:
            log.transactions += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "begin", begin)
    try:
        with before_statements(app, before_cursor_execute):
            yield log
    finally:
        event.remove(engine, "begin", begin)


@contextmanager
def before_statements(app, listener) -> Iterator[None]:
    """`listener` called before every statement of the app's engine, as SQLAlchemy's
    `before_cursor_execute` listeners are (conn, cursor, statement, parameters,
    context, executemany): those SQLAlchemy executes, and those the intake runs
    on the driver's cursor (crm_web/core/driver_sql.py; cursor and context None)."""
    with app.app_context():
        engine = db.engine

    def driver_statement(conn, statement, parameters):
        if conn.engine is engine:
            listener(conn, None, statement, parameters, None, False)

    event.listen(engine, "before_cursor_execute", listener)
    driver_sql.statement_hooks.append(driver_statement)
    try:
        yield
    finally:
        driver_sql.statement_hooks.remove(driver_statement)
        event.remove(engine, "before_cursor_execute", listener)


def insert_bare_contact() -> tuple[int, int]:
    """A source, a lead and a contact written in plain SQL (for a schema at any migration):
    (source id, contact id)."""
    db.session.execute(text(
        "INSERT INTO sources (name, key, webhook_token, is_active, created_at, form_format) "
        "VALUES ('Site', 'site', 't', true, CURRENT_TIMESTAMP, 'standard')"
    ))
    db.session.execute(text("INSERT INTO leads (name, created_at) VALUES ('Ivan', CURRENT_TIMESTAMP)"))
    db.session.execute(text(
        "INSERT INTO contacts (lead_id, source_id, is_active, created_at) "
        "SELECT (SELECT max(id) FROM leads), (SELECT max(id) FROM sources), true, CURRENT_TIMESTAMP"
    ))
    db.session.commit()
    return (
        db.session.execute(text("SELECT max(id) FROM sources")).scalar_one(),
        db.session.execute(text("SELECT max(id) FROM contacts")).scalar_one(),
    )


class FailsOnce:
    """`real`, raising RuntimeError (a bug, not a database error) on its first call only."""

    def __init__(self, real) -> None:
        self.real = real
        self.failed = False

    def __call__(self, *args, **kwargs):
        if not self.failed:
            self.failed = True
            raise RuntimeError("a bug in one call")
        return self.real(*args, **kwargs)
