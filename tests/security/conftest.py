"""Fixtures of the security tests: the staff-page helpers of tests/web, plus a few of our own."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_web.extensions import db
from tests.api.conftest import api, sup  # noqa: F401
from tests.web.conftest import PASSWORD, csrf, csrf_from, fetch, log_in, make_contact, sign_in  # noqa: F401


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


def post_form(client, path: str, data: dict, page: str = "/login", **kwargs):
    """POST a form with the CSRF token of the client's session, read from `page`."""
    response = client.get(page)
    if response.status_code == 302:  # /login sends a signed-in user on
        response = client.get("/")
    token = csrf_from(response.get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)
