"""Fixtures of the audit trail tests: a clean trail per test, and reading it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from crm_web.core.extensions import db
from crm_web.models import AuditEvent


@pytest.fixture(autouse=True)
def empty_trail(app):
    """The shared wipe() keeps audit rows; each test here starts without any."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))


@pytest.fixture
def events(app):
    """`events(action_prefix="")` → the audit rows, oldest first, details parsed (detached)."""

    def read(prefix: str = "", **where):
        with app.app_context():
            query = select(AuditEvent).order_by(AuditEvent.id)
            if prefix:
                query = query.where(AuditEvent.action.startswith(prefix))
            for name, value in where.items():
                query = query.where(getattr(AuditEvent, name) == value)
            rows = list(db.session.scalars(query))
            for row in rows:
                row.parsed = json.loads(row.details) if row.details else None
            db.session.expunge_all()
            db.session.remove()
            return rows

    return read


@pytest.fixture
def forget(app):
    """Delete the rows recorded so far (the set-up's), so a test sees only what it does."""

    def clear():
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events"))

    return clear
