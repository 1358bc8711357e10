"""Helpers for the JSON API tests (/api/v1).

Everything here drives the app through HTTP or creates data through the
services, like tests/conftest.py's factory does; nothing is mocked.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from crm_web.core.extensions import db

API = "/api/v1"

# A syntactically fine bearer token that no user owns.
UNKNOWN_TOKEN = "crm_" + "x" * 43


def assert_page(body: dict, page: int, per_page: int, total: int) -> list:
    assert set(body) == {"items", "page", "per_page", "total"}, body
    assert body["page"] == page
    assert body["per_page"] == per_page
    assert body["total"] == total
    assert isinstance(body["items"], list)
    return body["items"]


def as_json(response, status: int = 200):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    return response.get_json()


def intake(api, source_id: int, status: int = 201, **fields) -> dict:
    """Staff intake (POST /api/v1/contacts) through an `Api`; return the body."""
    return as_json(api.post("/contacts", {"source_id": source_id, **fields}), status)


def new_token(app, user_id: int, expires_at: datetime | None = None) -> str:
    """One more API token for the user, through the service."""
    from crm_web.models import User
    from crm_web.services.users import issue_token

    with app.app_context():
        user = db.session.get(User, user_id)
        token = issue_token(db.session, user, expires_at=expires_at)
        db.session.remove()
    return token


def revoke(app, user_id: int, token: str) -> None:
    from crm_web.models import ApiToken, User
    from crm_web.services.users import revoke_token, token_hash

    with app.app_context():
        user = db.session.get(User, user_id)
        token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.token_hash == token_hash(token)))
        revoke_token(db.session, token_id, user)
        db.session.remove()


def db_state(app, model, object_id: int) -> dict | None:
    """A row's columns read straight from the database (None when absent)."""
    with app.app_context():
        row = db.session.get(model, object_id)
        result = None
        if row is not None:
            result = {c.key: getattr(row, c.key) for c in model.__table__.columns}
        db.session.remove()
    return result


def rules_of(app, source_id: int) -> dict[int, Decimal]:
    from crm_web.models import Distribution

    with app.app_context():
        rows = db.session.execute(
            select(Distribution.operator_id, Distribution.weight).where(Distribution.source_id == source_id)
        ).all()
        db.session.remove()
    return {r.operator_id: Decimal(r.weight).quantize(Decimal("0.01")) for r in rows}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# Ids no row can have: below 1, beyond PostgreSQL's integer, beyond SQLite's INTEGER.
OUT_OF_RANGE_IDS = (0, 2**31, 2**63)


class Api:
    """The test client bound to one staff user's token; paths are relative to /api/v1."""

    def __init__(self, client, staff) -> None:
        self.client = client
        self.staff = staff

    def open(self, method: str, path: str, json=None, **kwargs):
        headers = {**self.staff.headers, **kwargs.pop("headers", {})}
        if json is not None:
            kwargs["json"] = json
        return self.client.open(API + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path: str, json=None, **kwargs):
        return self.open("POST", path, json, **kwargs)

    def patch(self, path: str, json=None, **kwargs):
        return self.open("PATCH", path, json, **kwargs)

    def put(self, path: str, json=None, **kwargs):
        return self.open("PUT", path, json, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.open("DELETE", path, **kwargs)
