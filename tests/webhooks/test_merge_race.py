"""A lead merged away between the intake's match and its insert (PostgreSQL).

SQLite runs one writer at a time, so the race exists only on PostgreSQL:
these tests run there alone. The merge is a real second transaction that
commits at the worst moment: just before the contact's INSERT, or while
the one statement that finds the lead and inserts the contact runs.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from crm_web.core.extensions import db
from crm_web.models import Contact, Lead
from crm_web.services.merge import merge_leads

from ..conftest import Factory, make_app, wipe
from ..helpers import before_statements
from .helpers import assert_created, post_json


@pytest.fixture
def pg_app(postgresql_url):
    app = make_app(postgresql_url)
    wipe(app)
    yield app
    with app.app_context():
        db.engine.dispose()


def _two_leads(app):
    factory = Factory(app)
    anna = factory.operator("Anna", max_load=10)
    source = factory.source("Site", key="site", weights={anna: 1})
    client = app.test_client()
    first = assert_created(post_json(client, source, {"phone": "+79990001111"}))  # lead A
    second = assert_created(post_json(client, source, {"email": "olga@example.com"}))  # lead B
    return client, source, first["lead"]["id"], second["lead"]["id"]


def _all_on(app, gone, kept):
    with app.app_context():
        assert db.session.get(Lead, gone) is None
        leads = db.session.scalars(select(Contact.lead_id).order_by(Contact.id)).all()
    assert leads == [kept, kept, kept]  # all three contacts, none lost


def test_a_transaction_survives_its_lead_being_merged_away_before_the_insert(pg_app):
    """The step-by-step transaction (here the staff's intake through the API):
    match, then the merge commits, then the contact's INSERT meets the
    foreign key."""
    app = pg_app
    client, source, gone, kept = _two_leads(app)
    staff = Factory(app).staff("supervisor")
    merged = threading.Event()

    def merge_now(_conn, _cursor, statement, *_args):
        if statement.lstrip().startswith("INSERT INTO contacts") and not merged.is_set():
            merged.set()
            # Another request, on another connection, merges A into B and commits.
            worker = threading.Thread(target=_merge, args=(app, kept, gone))
            worker.start()
            worker.join()

    with _listening(app, "before_cursor_execute", merge_now):
        again = {"source_id": source.id, "phone": "+79990001111", "message": "again"}
        body = assert_created(client.post("/api/v1/contacts", json=again, headers=staff.headers))

    assert merged.is_set()
    assert body["lead"] == {"id": kept, "created": False}  # matched again: the lead that absorbed A
    _all_on(app, gone, kept)


def test_the_single_statement_survives_its_lead_being_merged_away_while_it_runs(pg_app):
    """The autocommit statement that matches the lead and inserts the contact
    starts while a merge has deleted the lead but not committed: it reads
    the lead, waits for the merge, and then meets the foreign key."""
    app = pg_app
    client, source, gone, kept = _two_leads(app)
    started, deleted = threading.Event(), threading.Event()
    worker = threading.Thread(target=_merge, args=(app, kept, gone))
    statements = []

    def around_intake(_conn, _cursor, statement, *_args):
        if threading.current_thread() is worker:
            return
        statements.append(statement.lstrip().split(None, 2)[:2])
        if statement.lstrip().startswith("WITH new_lead") and not started.is_set():
            started.set()
            worker.start()
            assert deleted.wait(10)

    def hold_the_merge_open(_conn, _cursor, statement, *_args):
        if threading.current_thread() is worker and statement.lstrip().startswith("DELETE FROM leads"):
            deleted.set()
            time.sleep(0.5)  # the intake's statement starts meanwhile, and waits for this one

    with _listening(app, "before_cursor_execute", around_intake), _listening(
        app, "after_cursor_execute", hold_the_merge_open
    ):
        body = assert_created(post_json(client, source, {"phone": "+79990001111", "message": "again"}))
        worker.join()

    assert body["lead"] == {"id": kept, "created": False}
    # The statement failed on the foreign key and the intake ran again, now matching B.
    assert statements.count(["WITH", "new_lead"]) == 2, statements
    _all_on(app, gone, kept)


@contextmanager
def _listening(app, name, listener):
    if name == "before_cursor_execute":  # the intake's own statements included
        with before_statements(app, listener):
            yield
        return
    with app.app_context():
        engine = db.engine
    event.listen(engine, name, listener)
    try:
        yield
    finally:
        event.remove(engine, name, listener)


def _merge(app, keep_id, other_id):
    with app.app_context():
        merge_leads(db.session, keep_id, other_id)
        db.session.remove()
