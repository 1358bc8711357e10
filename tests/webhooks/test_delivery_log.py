"""Webhook deliveries are written apart from the intake, in batches (services/deliveries.py)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, text

from crm_web.core.extensions import db
from crm_web.models import WebhookDelivery
from crm_web.services import deliveries
from tests.helpers import FailsOnce, recorded_statements

from .helpers import assert_created, post_json


def rows(app, source_id: int) -> list[WebhookDelivery]:
    with app.app_context():
        found = db.session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.source_id == source_id).order_by(WebhookDelivery.id)
        ).all()
        db.session.expunge_all()
        db.session.remove()
    return found


def test_the_intakes_transaction_writes_no_delivery_row(app, client, factory):
    anna = factory.operator("Anna", max_load=5)
    source = factory.source("Site", key="site", weights={anna: 1})
    with recorded_statements(app) as log:
        assert_created(post_json(client, source, {"phone": "+79990000041"}))
    assert not [s for s in log.statements if "webhook_deliveries" in s]


def test_the_processes_writer_writes_a_delivery_within_a_second(app, client, factory):
    source = factory.source("Site", key="site")
    contact_id = post_json(client, source, {"phone": "+79990000042"}).get_json()["contact"]["id"]
    deadline = time.monotonic() + deliveries.LONGEST_WAIT + 1
    while not rows(app, source.id) and time.monotonic() < deadline:
        time.sleep(0.05)
    (row,) = rows(app, source.id)
    assert (row.status, row.contact_id) == (201, contact_id)


def test_the_processes_writer_outlives_an_unexpected_error(app, client, factory, monkeypatch):
    failing = FailsOnce(deliveries._write)
    monkeypatch.setattr(deliveries, "_write", failing)
    source = factory.source("Site", key="site")
    post_json(client, source, {"phone": "+79990000044"})
    time.sleep(deliveries.LONGEST_WAIT + 0.3)  # that batch fails in the writer thread
    contact_id = post_json(client, source, {"phone": "+79990000045"}).get_json()["contact"]["id"]
    deadline = time.monotonic() + deliveries.LONGEST_WAIT + 1
    while not rows(app, source.id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert failing.failed and [r.contact_id for r in rows(app, source.id)] == [contact_id]


def test_a_busy_worker_writes_rows_due_after_an_answer_not_from_its_thread(app, client, factory, monkeypatch):
    monkeypatch.setattr(deliveries, "QUIET", 60.0)  # the process's writer thread waits meanwhile
    source = factory.source("Site", key="site")
    assert_created(post_json(client, source, {"phone": "+79990000046"}))
    time.sleep(deliveries.FLUSH_EVERY + 0.1)
    assert rows(app, source.id) == []
    second = post_json(client, source, {"phone": "+79990000047"})
    assert_created(second)
    second.close()  # as the WSGI server closes it once the answer is sent
    assert [r.status for r in rows(app, source.id)] == [201, 201]


def test_the_request_that_fills_a_batch_writes_it_once_answered(app, client, factory, monkeypatch):
    monkeypatch.setattr(deliveries, "FLUSH_AT", 3)
    monkeypatch.setattr(deliveries, "FLUSH_EVERY", 60.0)  # the process's writer thread waits meanwhile
    source = factory.source("Site", key="site")
    for n in range(2):
        assert_created(post_json(client, source, {"phone": f"+7999000005{n}"}))
    assert rows(app, source.id) == []
    third = post_json(client, source, {"phone": "+79990000052"})
    assert_created(third)
    third.close()  # as the WSGI server closes it once the answer is sent
    assert [r.status for r in rows(app, source.id)] == [201, 201, 201]


def test_a_refused_request_is_a_delivery_too(app, client, factory):
    source = factory.source("Site", key="site")
    assert post_json(client, source, {"phone": "call me"}).status_code == 422
    with app.app_context():
        deliveries.flush(db.engine)
    assert [(r.status, r.contact_id) for r in rows(app, source.id)] == [(422, None)]


def test_a_row_whose_contact_is_gone_is_kept_and_listed_without_it(app, client, factory):
    source = factory.source("Site", key="site")
    contact_id = post_json(client, source, {"phone": "+79990000043"}).get_json()["contact"]["id"]
    with app.app_context():
        deliveries.later(db.engine, source.id, 201, deliveries.Delivery(body="gone"), contact_id + 1000)
        assert deliveries.flush(db.engine) >= 1
        listed = deliveries.recent_deliveries(db.session, source.id)
        assert [(d.body, d.contact) for d in listed][0] == ("gone", None)
        assert listed[1].contact.id == contact_id  # the batch's other rows as they were
        db.session.remove()


def test_a_worker_that_exits_writes_what_it_holds(app, factory, monkeypatch):
    import runpy

    from tests.live_server import ROOT

    source = factory.source("Site", key="site")
    with app.app_context():
        deliveries.later(db.engine, source.id, 422, deliveries.Delivery(body="last words"))
    monkeypatch.setenv("CRM_SERVING", "1")  # gunicorn.conf.py sets it: undone after the test
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    hooks["worker_exit"](None, None)
    assert [r.body for r in rows(app, source.id)] == ["last words"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL has no queue
def test_on_sqlite_the_writer_indexes_the_webhooks_contacts_for_search_with_their_deliveries(
    app, client, factory
):
    """The intake's transaction leaves a new contact and lead out of the search tables (migration
    0011); the delivery rows' batch indexes them, so few wait without a search."""
    source = factory.source("Site", key="site")
    with recorded_statements(app) as log:
        assert_created(post_json(client, source, {"phone": "+79990000043", "message": "Перезвоните"}))
    assert not [s for s in log.statements if "contacts_search (" in s or "leads_search (" in s]
    pending = text(
        "SELECT (SELECT count(*) FROM contacts WHERE id > (SELECT up_to FROM search_indexed"
        " WHERE name = 'contacts_search')) + (SELECT count(*) FROM leads WHERE id > (SELECT up_to"
        " FROM search_indexed WHERE name = 'leads_search'))"
    )
    matches = text("SELECT count(*) FROM contacts_search WHERE contacts_search MATCH 'Перезвон'")
    with app.app_context():
        deliveries.flush(db.engine)  # unless the writer's own round came first
        assert db.session.scalar(pending) == 0
        assert db.session.scalar(matches) == 1
        db.session.remove()
