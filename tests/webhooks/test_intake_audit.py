"""Every automatic decision of the intake leaves its "why" in the audit trail,
written in the same transaction as the contact."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm_web.core.extensions import db
from crm_web.models import AuditEvent, Contact
from tests.helpers import assert_error, before_statements

from .helpers import assert_created, auth, operator_load, post_json, url


def events(app) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith("contact.")).order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def contact_operator(app, contact_id: int) -> int | None:
    with app.app_context():
        return db.session.get(Contact, contact_id).operator_id


def test_auto_assignment_records_candidates_loads_weights_and_the_draw(app, client, factory):
    anna = factory.operator("Anna", max_load=5)
    boris = factory.operator("Boris", max_load=3)
    source = factory.source("Site", key="site", weights={anna: 1, boris: 3})

    body = assert_created(
        post_json(client, source, {"phone": "+79990000001"}, **{"X-Request-ID": "req-12345678"})
    )

    contact_id = body["contact"]["id"]
    [event] = events(app)
    assert (event.action, event.subject_type, event.subject_id) == ("contact.assigned", "contact", contact_id)
    assert event.actor_label == "webhook site"
    assert event.request_id == "req-12345678"
    details = json.loads(event.details)
    assert details["mode"] == "auto"
    assert details["operator_id"] == contact_operator(app, contact_id) == body["contact"]["operator"]["id"]
    assert {c["name"]: (c["weight"], c["load"], c["max_load"]) for c in details["candidates"]} == {
        "Anna": ("1.00", 0, 5),
        "Boris": ("3.00", 0, 3),
    }
    # The draw picks the operator whose slice of [0, total) holds the value.
    draw = details["draw"]
    assert draw["total"] == 400 and 0 <= draw["value"] < 400
    expected = "Anna" if draw["value"] < 100 else "Boris"
    assert details["operator_name"] == expected
    assert details["refused"] == []


def test_nobody_free_records_the_queueing(app, client, factory):
    full = factory.operator("Full", max_load=0)
    source = factory.source("Night", key="night", weights={full: 1})

    body = assert_created(post_json(client, source, {"email": "a@example.com"}))

    [event] = events(app)
    assert (event.action, event.subject_id) == ("contact.queued", body["contact"]["id"])
    details = json.loads(event.details)
    assert details["reason"] == "no_operator_free"
    assert details["candidates"] == []  # the full operator was never eligible


def test_one_row_per_contact_and_none_for_refused_or_replayed_requests(app, client, factory):
    anna = factory.operator("Anna", max_load=100)
    source = factory.source("Site", key="site", weights={anna: 1})

    for i in range(5):
        assert_created(post_json(client, source, {"phone": f"+7999000000{i}"}))
    # Refused: a wrong token, an invalid body; replayed: the same Idempotency-Key.
    assert_error(
        client.post(url(source), json={"phone": "+79990000001"}, headers={"X-Webhook-Token": "no"}), 401
    )
    assert_error(client.post(url(source), json={"phone": "12"}, headers=auth(source)), 422)
    first = post_json(client, source, {"phone": "+79990000009"}, **{"Idempotency-Key": "k-1"})
    again = post_json(client, source, {"phone": "+79990000009"}, **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)

    rows = events(app)
    assert len(rows) == 6
    assert len({e.subject_id for e in rows}) == 6
    assert factory.count("contacts") == 6


def test_a_failure_after_the_intake_audit_row_keeps_nothing(app, client, factory):
    """The hot path writes the contact, the claim and its audit row on a connection of its own
    (tx.write_connection); when the statement after them (the Idempotency-Key's stored answer)
    fails, the contact, its audit row and the operator's load all roll back; without the fault,
    one of each."""
    anna = factory.operator("Anna", max_load=10)
    source = factory.source("Site", key="site", weights={anna: 1})

    def fail_on_key_update(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE WEBHOOK_IDEMPOTENCY_KEYS"):
            raise IntegrityError(statement, parameters, Exception("injected after the audit row"))

    before = factory.counts()
    with before_statements(app, fail_on_key_update):
        response = client.post(
            "/webhooks/site", json={"phone": "+79991234567"},
            headers={"X-Webhook-Token": source.webhook_token, "Idempotency-Key": "atomic-1"},
        )
    assert response.status_code == 500
    assert "error" in response.get_json()
    assert factory.counts() == before
    assert operator_load(app, anna.id) == 0

    response = client.post(
        "/webhooks/site", json={"phone": "+79991234567"},
        headers={"X-Webhook-Token": source.webhook_token, "Idempotency-Key": "atomic-1"},
    )
    assert response.status_code == 201
    after = factory.counts()
    assert after["contacts"] == before["contacts"] + 1
    assert after["audit_events"] == before["audit_events"] + 1
    assert operator_load(app, anna.id) == 1
