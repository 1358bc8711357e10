"""Fixtures of the security tests (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_web.core.extensions import db


@pytest.fixture
def audit_rows(app, audit_rows_of):
    """`audit_rows(action)` → that action's audit events, oldest first, details parsed."""
    return lambda action: audit_rows_of(app, action)


@pytest.fixture
def audit_rows_of():
    """`audit_rows_of(app, action)`: the same for any app."""
    import json

    from crm_web.models import AuditEvent

    def rows(app, action: str) -> list[dict]:
        with app.app_context():
            events = db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            ).all()
            result = [
                {
                    "subject_id": e.subject_id,
                    "actor_user_id": e.actor_user_id,
                    "actor_label": e.actor_label,
                    "ip": e.ip,
                    "details": json.loads(e.details) if e.details else None,
                    "raw": e.details or "",
                }
                for e in events
            ]
            db.session.remove()
        return result

    return rows
