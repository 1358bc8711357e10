"""`?after=<id>` keyset pages and the estimated total of very long lists."""

from __future__ import annotations

from crm_web.core.extensions import db
from crm_web.models import Contact
from crm_web.services import pagination
from crm_web.services.contacts import ContactFilters, list_contacts
from tests.helpers import assert_error

from .helpers import as_json, assert_page, intake


def test_after_walks_the_contacts_newest_first(api, factory):
    source = factory.source("Site")
    ids = [intake(api, source.id, external_id=f"e{i}")["contact"]["id"] for i in range(7)]
    newest_first = sorted(ids, reverse=True)
    seen, after = [], None
    while True:
        query = "per_page=3" + (f"&after={after}" if after else "")
        items = as_json(api.get(f"/contacts?{query}"))
        assert items["total"] == 7 and items["page"] == 1
        if not items["items"]:
            break
        seen += [item["id"] for item in items["items"]]
        after = seen[-1]
    assert seen == newest_first


def test_after_in_the_queue_is_oldest_first(api, factory):
    source = factory.source("No rules")  # every contact waits in the queue
    ids = [intake(api, source.id, external_id=f"q{i}")["contact"]["id"] for i in range(5)]
    body = as_json(api.get(f"/contacts?status=unassigned&per_page=2&after={ids[1]}"))
    assert [item["id"] for item in assert_page(body, 1, 2, 5)] == ids[2:4]


def test_after_on_leads_and_bad_values(api, factory):
    source = factory.source("Site")
    leads = [intake(api, source.id, external_id=f"l{i}")["lead"]["id"] for i in range(4)]
    body = as_json(api.get(f"/leads?after={leads[2]}"))
    assert [item["id"] for item in assert_page(body, 1, 50, 4)] == [leads[1], leads[0]]
    for bad in ("0", "-1", "x", str(2**31)):
        assert_error(api.get(f"/contacts?after={bad}"), 422)
        assert_error(api.get(f"/leads?after={bad}"), 422)


def test_long_lists_get_an_estimated_total(app, api, factory, monkeypatch):
    source = factory.source("Site")
    for i in range(12):
        intake(api, source.id, external_id=f"x{i}")
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    monkeypatch.setattr(pagination, "SAMPLE_SIZE", 8)
    monkeypatch.setattr(pagination, "SAMPLE_SLICES", 2)
    monkeypatch.setattr(pagination, "_estimates", {})
    with app.app_context():
        page = list_contacts(db.session, ContactFilters(), 1, 3)
        ids = db.session.scalars(db.select(Contact.id)).all()
        db.session.remove()
    # Every sampled id matches: the estimate is the id span, here exact.
    assert page.total_is_estimate is True
    assert page.total == max(ids) - min(ids) + 1 == 12
    assert len(page.items) == 3
    # Short lists stay exact.
    with app.app_context():
        assert list_contacts(db.session, ContactFilters(status="assigned"), 1, 3).total == 0
        db.session.remove()
    # The estimate is reused for a while (no counting); exact totals never are.
    with app.app_context():
        assert list_contacts(db.session, ContactFilters(), 2, 3).total == 12
        db.session.remove()
    assert len(pagination._estimates) == 1
