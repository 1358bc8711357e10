"""PostgreSQL's autocommit intake writes all or nothing, even when it loses a race.

A new client, and a returning one that only adds a contact, is stored by one
statement (lead, claim, contact, audit row) in autocommit. Here the
drawn operator fills up just before that statement runs, committed by another
connection, so the claim is refused at the worst moment. The lead must not be
kept without its contact, the load must stay exact, and the contact must go
to the operator still free (or wait in the queue), with one audit row.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, select, text

from crm_web.core.extensions import db
from crm_web.models import AuditEvent, Contact, Lead, Operator

from ..helpers import before_statements
from .helpers import assert_created, post_json


@pytest.fixture
def database_url(postgresql_url):
    """PostgreSQL only: SQLite runs the intake in one transaction."""
    return postgresql_url


def fill_up_before(app, prefix: str):
    """Before the first statement starting with `prefix`, another connection
    commits the drawn operator's max_load down to its load. Returns the ids
    filled up (a list, empty until then)."""
    with app.app_context():
        engine = db.engine
    other = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    filled: list[int] = []

    def before(_conn, _cursor, statement, params, *_rest):
        if statement.lstrip().startswith(prefix) and not filled:
            filled.append(params["chosen_id"])
            with other.connect() as conn:
                conn.execute(
                    text("UPDATE operators SET max_load = active_load WHERE id = :id"), {"id": filled[0]}
                )

    listening = before_statements(app, before)
    listening.__enter__()
    return filled, lambda: (listening.__exit__(None, None, None), other.dispose())


def state(app):
    with app.app_context():
        leads = db.session.scalars(select(Lead.id).order_by(Lead.id)).all()
        contacts = db.session.execute(select(Contact.lead_id, Contact.operator_id).order_by(Contact.id)).all()
        loads = dict(db.session.execute(select(Operator.id, Operator.active_load)).all())
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith("contact.")).order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
    return leads, [tuple(c) for c in contacts], loads, events


@pytest.mark.parametrize(
    "returning, first",
    [(False, None), (True, {"name": "Olga"}), (True, {})],
    ids=["new client", "returning client", "returning client who fills in the name"],
)
def test_a_claim_refused_at_the_last_moment_goes_to_the_operator_still_free(
    app, client, factory, returning, first
):
    anna = factory.operator("Anna", max_load=5)
    boris = factory.operator("Boris", max_load=5)
    source = factory.source("Site", key="site", weights={anna: 1, boris: 1})
    night = factory.source("Night", key="night")  # no operators: its contact waits
    lead_id = None
    if returning:
        body = assert_created(post_json(client, night, {"phone": "+79990002222", **first}))
        lead_id = body["lead"]["id"]

    # Either client's whole intake is the statement WITH new_lead ...
    filled, stop = fill_up_before(app, "WITH new_lead")
    try:
        body = assert_created(post_json(client, source, {"phone": "+79990002222", "name": "Olga"}))
    finally:
        stop()

    assert len(filled) == 1
    refused = filled[0]
    free = boris.id if refused == anna.id else anna.id
    assert body["contact"]["operator"]["id"] == free
    assert body["lead"]["created"] is not returning
    leads, contacts, loads, events = state(app)
    assert len(leads) == 1  # no lead left behind by the refused statement
    if returning:
        assert body["lead"]["id"] == lead_id
    assert contacts[-1] == (leads[0], free)
    assert len(contacts) == (2 if returning else 1)
    assert loads == {refused: 0, free: 1}
    assigned = [e for e in events if e.action == "contact.assigned"]
    assert [e.subject_id for e in assigned] == [body["contact"]["id"]]
    details = json.loads(assigned[0].details)
    assert details["operator_id"] == free
    if returning and not first:
        # The statement wrote nothing (the lead lacks the name), so the
        # transaction drew from the same candidates: refused, on record.
        assert details["refused"] == [refused]
    else:
        # The refused statement left nothing, not even on record: the
        # transaction after it read the refused operator as full.
        assert details["refused"] == []


def test_a_new_client_whose_only_operator_fills_up_at_the_last_moment_waits(app, client, factory):
    anna = factory.operator("Anna", max_load=5)
    source = factory.source("Site", key="site", weights={anna: 1})

    filled, stop = fill_up_before(app, "WITH new_lead")
    try:
        body = assert_created(post_json(client, source, {"email": "late@example.com"}))
    finally:
        stop()

    assert filled == [anna.id]
    assert body["operator_available"] is False and body["lead"]["created"] is True
    leads, contacts, loads, events = state(app)
    assert contacts == [(leads[0], None)] and len(leads) == 1
    assert loads == {anna.id: 0}
    assert [(e.action, e.subject_id) for e in events] == [("contact.queued", body["contact"]["id"])]
