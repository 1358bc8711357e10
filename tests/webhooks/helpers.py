"""Shared helpers of the webhook tests: posting, the created answer, reading rows.

The JSON error shape is checked by tests/helpers.py's `assert_error`.
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import text

from crm_web.core.extensions import db

MAX_BODY = 64 * 1024
PHONE = "+79991234567"
IDENTIFIER_FIELDS = {"external_id", "phone", "email"}
CONTACT_KEYS = {"id", "lead_id", "source_id", "status", "operator", "created_at"}


def url(source, **query) -> str:
    path = f"/webhooks/{source.key}"
    return f"{path}?{urlencode(query)}" if query else path


def auth(source, **extra) -> dict[str, str]:
    return {"X-Webhook-Token": source.webhook_token, **extra}


def post_json(client, source, payload, **headers):
    return client.post(url(source), json=payload, headers=auth(source, **headers))


def json_of_size(size: int, **fields) -> bytes:
    """A JSON object with `fields` padded by an unknown field to exactly `size` bytes."""
    base = json.dumps({**fields, "padding": ""}).encode()
    body = json.dumps({**fields, "padding": "x" * (size - len(base))}).encode()
    assert len(body) == size
    return body


def form_of_size(size: int, **fields) -> bytes:
    """An urlencoded form padded by an unknown field to exactly `size` bytes."""
    base = urlencode({**fields, "padding": ""}).encode()
    body = urlencode({**fields, "padding": "x" * (size - len(base))}).encode()
    assert len(body) == size
    return body


def assert_created(response) -> dict:
    """201 with the documented body; returns the body."""
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert_intake_body(body)
    return body


def assert_intake_body(body: dict) -> None:
    assert set(body) == {"contact", "lead", "operator_available"}
    contact, lead = body["contact"], body["lead"]
    assert set(contact) >= CONTACT_KEYS
    for key in ("id", "lead_id", "source_id"):
        assert isinstance(contact[key], int) and not isinstance(contact[key], bool)
    assert set(lead) == {"id", "created"}
    assert lead["id"] == contact["lead_id"]
    assert isinstance(lead["created"], bool)
    assert isinstance(body["operator_available"], bool)
    created_at = datetime.fromisoformat(contact["created_at"])
    assert created_at.tzinfo is not None and created_at.utcoffset().total_seconds() == 0
    if body["operator_available"]:
        assert contact["status"] == "assigned"
        assert set(contact["operator"]) == {"id", "name"}
        assert isinstance(contact["operator"]["id"], int)
        assert isinstance(contact["operator"]["name"], str)
    else:
        assert contact["status"] == "unassigned"
        assert contact["operator"] is None


def rows(app, sql: str, **params) -> list[tuple]:
    with app.app_context():
        result = [tuple(r) for r in db.session.execute(text(sql), params).all()]
        db.session.remove()
        return result


def lead_row(app, lead_id: int) -> dict:
    (row,) = rows(app, "SELECT external_id, phone, email, name FROM leads WHERE id = :id", id=lead_id)
    return dict(zip(("external_id", "phone", "email", "name"), row, strict=True))


def contact_row(app, contact_id: int) -> dict:
    (row,) = rows(
        app,
        "SELECT lead_id, source_id, operator_id, is_active, name, message FROM contacts WHERE id = :id",
        id=contact_id,
    )
    keys = ("lead_id", "source_id", "operator_id", "is_active", "name", "message")
    return dict(zip(keys, row, strict=True))


def active_contacts_by_operator(app) -> dict[int | None, int]:
    found = rows(
        app, "SELECT operator_id, COUNT(*) FROM contacts WHERE is_active GROUP BY operator_id"
    )
    return {operator_id: count for operator_id, count in found}


def operator_load(app, operator_id: int) -> int:
    (row,) = rows(app, "SELECT active_load FROM operators WHERE id = :id", id=operator_id)
    return row[0]


def is_postgresql(database_url: str) -> bool:
    return database_url.startswith("postgresql")
