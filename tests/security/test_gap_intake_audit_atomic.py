"""Gap fill for criterion 4 on the webhook hot path (its own Core connection, tx.write_connection).

tests/audit/test_services.py injects a failure after the audit INSERT of an
ORM-session service; the intake path writes the contact, the claim and its
audit row on a separate connection. Here the statement that follows them
(the Idempotency-Key's stored answer) fails: the contact, its audit row and
the operator's load must all roll back; without the fault, one of each.
"""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from crm_web.extensions import db


def _load(app, operator_id):
    with app.app_context():
        value = db.session.execute(
            text("SELECT active_load FROM operators WHERE id = :id"), {"id": operator_id}
        ).scalar_one()
        db.session.remove()
        return value


def test_a_failure_after_the_intake_audit_row_keeps_nothing(app, client, factory):
    anna = factory.operator("Anna", max_load=10)
    source = factory.source("Site", key="site", weights={anna: 1})
    with app.app_context():
        engine = db.engine

    def fail_on_key_update(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE WEBHOOK_IDEMPOTENCY_KEYS"):
            raise IntegrityError(statement, parameters, Exception("injected after the audit row"))

    before = factory.counts()
    event.listen(engine, "before_cursor_execute", fail_on_key_update)
    try:
        response = client.post(
            "/webhooks/site", json={"phone": "+79991234567"},
            headers={"X-Webhook-Token": source.webhook_token, "Idempotency-Key": "atomic-1"},
        )
    finally:
        event.remove(engine, "before_cursor_execute", fail_on_key_update)
    assert response.status_code == 500
    assert "error" in response.get_json()
    assert factory.counts() == before
    assert _load(app, anna.id) == 0

    response = client.post(
        "/webhooks/site", json={"phone": "+79991234567"},
        headers={"X-Webhook-Token": source.webhook_token, "Idempotency-Key": "atomic-1"},
    )
    assert response.status_code == 201
    after = factory.counts()
    assert after["contacts"] == before["contacts"] + 1
    assert after["audit_events"] == before["audit_events"] + 1
    assert _load(app, anna.id) == 1
