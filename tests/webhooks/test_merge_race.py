"""A lead merged away between the intake's match and its insert (PostgreSQL).

SQLite runs one writer at a time, so the race exists only on PostgreSQL:
this test runs there alone. The merge is a real second transaction that
commits at the worst moment (just before the contact's INSERT).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select

from crm_web.extensions import db
from crm_web.models import Contact, Lead
from crm_web.services.merge import merge_leads

from ..conftest import Factory, make_app, wipe
from .helpers import assert_created, post_json


@pytest.fixture
def pg_app(postgresql_url):
    app = make_app(postgresql_url)
    wipe(app)
    yield app
    with app.app_context():
        db.engine.dispose()


def test_intake_survives_its_lead_being_merged_away_mid_request(pg_app):
    app, factory = pg_app, Factory(pg_app)
    anna = factory.operator("Anna", max_load=10)
    source = factory.source("Site", key="site", weights={anna: 1})
    client = app.test_client()
    first = assert_created(post_json(client, source, {"phone": "+79990001111"}))  # lead A
    second = assert_created(post_json(client, source, {"email": "olga@example.com"}))  # lead B
    gone, kept = first["lead"]["id"], second["lead"]["id"]

    merged = threading.Event()

    def merge_now(_conn, _cursor, statement, *_args):
        if statement.lstrip().startswith(("WITH claimed", "INSERT INTO contacts")) and not merged.is_set():
            merged.set()
            # Another request, on another connection, merges A into B and commits.
            worker = threading.Thread(target=_merge, args=(app, kept, gone))
            worker.start()
            worker.join()

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", merge_now)
    try:
        body = assert_created(post_json(client, source, {"phone": "+79990001111", "message": "again"}))
    finally:
        event.remove(engine, "before_cursor_execute", merge_now)

    assert merged.is_set()
    assert body["lead"] == {"id": kept, "created": False}  # matched again: the lead that absorbed A
    with app.app_context():
        assert db.session.get(Lead, gone) is None
        leads = db.session.scalars(select(Contact.lead_id).order_by(Contact.id)).all()
    assert leads == [kept, kept, kept]  # all three contacts, none lost


def _merge(app, keep_id, other_id):
    with app.app_context():
        merge_leads(db.session, keep_id, other_id)
        db.session.remove()
