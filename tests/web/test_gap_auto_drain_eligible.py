"""Gap (issue 6, criterion 1): auto-drain on close takes the oldest *eligible* queued contact.

An older contact of a source the freed operator does not serve stays queued;
the oldest contact of the freed operator's own source is the one assigned.
"""

from __future__ import annotations

from crm_web.extensions import db
from crm_web.models import Contact


def operator_of(app, contact_id):
    with app.app_context():
        value = db.session.get(Contact, contact_id).operator_id
        db.session.remove()
        return value


def test_auto_drain_on_close_skips_an_older_contact_nobody_free_may_take(
    app, client, factory, sign_in, csrf, make_contact
):
    app.config["CRM_AUTO_DRAIN"] = True
    anna = factory.operator("Anna", max_load=1)
    boris = factory.operator("Boris", max_load=0)  # full: serves "Night" only
    site = factory.source("Site", weights={anna: 1})
    night = factory.source("Night", weights={boris: 1})
    held = make_contact(site, phone="+79990001001")  # Anna is now full
    oldest_night = make_contact(night, phone="+79990001002")
    older_site = make_contact(site, phone="+79990001003")
    newer_site = make_contact(site, phone="+79990001004")
    assert [operator_of(app, c.id) for c in (oldest_night, older_site, newer_site)] == [None] * 3
    sign_in("supervisor")

    response = client.post(f"/contacts/{held.id}/close", data={"csrf_token": csrf(f"/contacts/{held.id}")})
    assert response.status_code in (200, 303)

    assert operator_of(app, oldest_night.id) is None  # Anna may not take it; Boris is full
    assert operator_of(app, older_site.id) == anna.id  # the oldest she may take
    assert operator_of(app, newer_site.id) is None
