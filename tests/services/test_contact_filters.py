"""services/contacts.py ContactFilters: the utm_source filter the API and the pages share."""

from __future__ import annotations

from sqlalchemy import update

from crm_web.core.extensions import db
from crm_web.models import Contact
from crm_web.services.contacts import ContactFilters, list_contacts


def test_utm_source_filters_exactly_and_pages_by_keyset(app, factory, make_contact, session):
    source = factory.source("Site")
    made = [make_contact(source, phone=f"+7999111000{i}") for i in range(6)]
    for contact in made[::2]:  # 0, 2, 4
        session.execute(update(Contact).where(Contact.id == contact.id).values(
            utm={"utm_source": "vk", "utm_campaign": "march"}, utm_source="vk",
        ))
    session.execute(update(Contact).where(Contact.id == made[1].id).values(
        utm={"utm_source": "VK"}, utm_source="VK",
    ))
    session.commit()

    vk = ContactFilters(utm_source="vk")
    page = list_contacts(session, vk, 1, 2)
    assert [c.id for c in page.items] == [made[4].id, made[2].id]
    assert page.total == 3
    rest = list_contacts(session, vk, 1, 2, after=page.items[-1].id)
    assert [c.id for c in rest.items] == [made[0].id]
    assert [c.utm for c in rest.items] == [{"utm_source": "vk", "utm_campaign": "march"}]
    queue = list_contacts(session, ContactFilters(status="unassigned", utm_source="vk"), 1, 10)
    assert [c.id for c in queue.items] == [made[0].id, made[2].id, made[4].id]
    assert list_contacts(session, ContactFilters(utm_source="VK"), 1, 10).total == 1
    assert list_contacts(session, ContactFilters(utm_source="ok"), 1, 10).items == []
    assert list_contacts(session, ContactFilters(), 1, 10).total == 6
    db.session.remove()
