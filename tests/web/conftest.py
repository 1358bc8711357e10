"""Helpers for client tests of the staff pages: sign in, read the CSRF token, read rows."""

from __future__ import annotations

import re

import pytest

from crm_web.extensions import db

PASSWORD = "password-123"  # what tests/conftest.py's factory gives every staff user
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def csrf(client):
    """The CSRF token of the client's session, read from a rendered page."""

    def token(path: str = "/login") -> str:
        return csrf_from(client.get(path).get_data(as_text=True))

    return token


@pytest.fixture
def log_in():
    """Post the sign-in form with any test client; returns the response."""

    def post(some_client, email: str, password: str = PASSWORD):
        token = csrf_from(some_client.get("/login").get_data(as_text=True))
        return some_client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    return post


@pytest.fixture
def sign_in(client, factory, log_in):
    """Create a staff user (an operator user gets its own Operator) and sign the client in."""

    def sign_in_as(role: str = "supervisor", operator_id: int | None = None, email: str | None = None):
        if role == "operator" and operator_id is None:
            operator_id = factory.operator().id
        staff = factory.staff(role, operator_id=operator_id, email=email)
        response = log_in(client, staff.email)
        assert response.status_code == 303, response.get_data(as_text=True)
        return staff

    return sign_in_as


@pytest.fixture
def fetch(app):
    """Read one row afresh, outside any request (detached, attributes loaded)."""

    def get(model, row_id: int):
        with app.app_context():
            row = db.session.get(model, row_id)
            db.session.remove()
            return row

    return get


# --- contacts and SQL counts (queue, contacts and leads pages) -----------------


@pytest.fixture
def make_contact(app):
    """Register a contact through the intake service, as the webhook does; return it (detached)."""
    from crm_web.domain.identifiers import parse_contact_input
    from crm_web.services.intake import register_contact

    def make(source, **fields):
        with app.app_context():
            data = parse_contact_input(fields, app.config["CRM_PHONE_REGION"])
            contact = register_contact(db.session, source, data, app.extensions["crm_rng"]).contact
            db.session.remove()
            return contact

    return make


@pytest.fixture
def count_queries(app):
    """`count_queries(action)` → (SQL statements the action issued, its result)."""
    from sqlalchemy import event

    def count(action):
        statements: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            result = action()
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(statements), result

    return count
