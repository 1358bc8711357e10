"""Site forms and VK through the webhook (contract §2a), on both databases.

The bodies are what the senders post (see the domain tests for more shapes);
here what is checked is what the webhook answers and what it stores: the
contact with its form fields, UTM marks, page address and warnings, the
sender's delivery id as an idempotency key, and the source's deliveries.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from sqlalchemy import select, update

from crm_web.core.extensions import db
from crm_web.models import Contact, Lead, Source, WebhookDelivery

from .helpers import assert_created, url


def configure(app, source, **values):
    with app.app_context():
        db.session.execute(update(Source).where(Source.id == source.id).values(**values))
        db.session.commit()
        db.session.remove()


def site_form(app, factory, **values):
    anna = factory.operator("Anna", max_load=100)
    source = factory.source("Landing", key="landing", weights={anna: 1})
    configure(app, source, form_format="site_form", **values)
    return source


def post_form(client, source, fields, **headers):
    return client.post(
        url(source, token=source.webhook_token),
        data=urlencode(fields).encode(),
        content_type="application/x-www-form-urlencoded",
        headers={"Accept": "application/json", **headers},
    )


def contacts(app):
    with app.app_context():
        rows = db.session.scalars(select(Contact).order_by(Contact.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def deliveries(app, source):
    """The source's delivery rows, once this process wrote what it holds (as the source's page does)."""
    from crm_web.services.deliveries import flush

    with app.app_context():
        flush(db.engine)
        rows = db.session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.source_id == source.id).order_by(WebhookDelivery.id)
        ).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_tildas_connection_check_is_answered_200_and_stores_nothing(app, client, factory):
    source = site_form(app, factory)
    response = post_form(client, source, {"test": "test"})
    assert response.status_code == 200
    assert isinstance(response.get_json(), dict)
    assert contacts(app) == []
    assert [d.status for d in deliveries(app, source)] == [200]


def test_a_tilda_submission_is_stored_with_what_else_was_sent(app, client, factory):
    source = site_form(app, factory)
    fields = {
        "Name": "Ирина", "Phone": "+7 (999) 123-45-67", "Email": "IRINA@example.com",
        "Comments": "Перезвоните после обеда", "tranid": "1234567:890", "formid": "form123",
        "utm_source": "yandex", "utm_campaign": "spring",
    }
    body = assert_created(post_form(client, source, fields))
    assert body["contact"]["form_fields"] == {"tranid": "1234567:890", "formid": "form123"}
    assert body["contact"]["utm"] == {"utm_source": "yandex", "utm_campaign": "spring"}
    assert body["contact"]["warnings"] == []
    (contact,) = contacts(app)
    assert (contact.name, contact.message) == ("Ирина", "Перезвоните после обеда")
    assert contact.utm_source == "yandex"
    with app.app_context():
        lead = db.session.get(Lead, contact.lead_id)
        assert (lead.phone, lead.email) == ("+79991234567", "irina@example.com")
        db.session.remove()
    (delivery,) = deliveries(app, source)
    assert delivery.status == 201 and delivery.contact_id == contact.id
    assert delivery.recognised["Phone"] == "phone" and delivery.recognised["Name"] == "name"
    assert delivery.kept == ["tranid", "formid"]


def test_tildas_retry_with_the_same_tranid_stores_nothing_more(app, client, factory):
    source = site_form(app, factory)
    fields = {"Name": "Ivan", "Phone": "+79990000001", "tranid": "555:1"}
    first = assert_created(post_form(client, source, fields))
    again = post_form(client, source, fields)
    assert again.status_code == 200
    assert again.get_json() == first
    assert len(contacts(app)) == 1
    assert [d.status for d in deliveries(app, source)] == [201, 200]


def test_an_unreadable_phone_is_kept_with_a_warning_instead_of_refusing(app, client, factory):
    source = site_form(app, factory)
    body = assert_created(post_form(client, source, {"phone": "call me", "email": "a@example.com"}))
    assert body["contact"]["form_fields"] == {"phone": "call me"}
    assert len(body["contact"]["warnings"]) == 1 and "call me" in body["contact"]["warnings"][0]
    (contact,) = contacts(app)
    assert contact.warnings == body["contact"]["warnings"]


def test_a_submission_without_any_identifier_is_a_lead_of_its_own(app, client, factory):
    source = site_form(app, factory)
    first = assert_created(post_form(client, source, {"name": "Anna", "message": "hello"}))
    second = assert_created(post_form(client, source, {"name": "Anna", "message": "hello again"}))
    assert first["lead"]["created"] and second["lead"]["created"]
    assert first["lead"]["id"] != second["lead"]["id"]  # never matched to another lead
    assert first["contact"]["warnings"]


def test_a_submission_of_blanks_is_422_and_stores_nothing(app, client, factory):
    source = site_form(app, factory)
    response = post_form(client, source, {"name": " ", "phone": ""})
    assert response.status_code == 422
    assert contacts(app) == []
    assert [d.status for d in deliveries(app, source)] == [422]


def test_the_field_map_wins_over_recognition(app, client, factory):
    source = site_form(app, factory, field_map={"2": "phone", "1.3": "name", "tel-715": "message"})
    payload = {"2": "8 999 765-43-21", "1.3": "Olga", "tel-715": "not a phone here"}
    response = client.post(
        url(source), json=payload, headers={"X-Webhook-Token": source.webhook_token}
    )
    body = assert_created(response)
    (contact,) = contacts(app)
    assert (contact.name, contact.message) == ("Olga", "not a phone here")
    assert body["contact"]["warnings"] == []


def test_elementor_advanced_data_and_the_page_address(app, client, factory):
    source = site_form(app, factory)
    fields = {
        "fields[name][id]": "name", "fields[name][type]": "text", "fields[name][title]": "Имя",
        "fields[name][value]": "Пётр",
        "fields[field_1][id]": "field_1", "fields[field_1][type]": "tel",
        "fields[field_1][title]": "Ваш телефон", "fields[field_1][value]": "+7 999 111-22-33",
        "meta[page_url][title]": "Page URL",
        "meta[page_url][value]": "https://salon.example/?utm_source=vk&utm_medium=cpc",
    }
    body = assert_created(post_form(client, source, fields))
    assert body["contact"]["page_url"] == "https://salon.example/?utm_source=vk&utm_medium=cpc"
    assert body["contact"]["utm"] == {"utm_source": "vk", "utm_medium": "cpc"}
    (contact,) = contacts(app)
    assert contact.name == "Пётр"


def test_a_wordpress_sender_gets_exactly_200_for_a_stored_entry(app, client, factory):
    # Elementor's webhook action takes anything but 200 for a failure (proelements
    # modules/forms/actions/webhook.php); WordPress's HTTP API names itself in User-Agent.
    source = site_form(app, factory)
    fields = {"Имя": "Пётр", "Телефон": "+7 999 111-22-33"}
    from_wordpress = post_form(client, source, fields, **{"User-Agent": "WordPress/6.7.1; https://salon.example"})
    assert from_wordpress.status_code == 200
    assert from_wordpress.get_json()["contact"]["status"] == "assigned"
    other = post_form(client, source, {**fields, "Телефон": "+7 999 111-22-44"})
    assert other.status_code == 201
    assert len(contacts(app)) == 2
    assert [d.status for d in deliveries(app, source)] == [200, 201]


def test_a_windows_1251_form_is_read(app, client, factory):
    source = site_form(app, factory)
    name = "".join(f"%{b:02X}" for b in "Фёдор".encode("cp1251"))
    raw = f"name={name}&phone=%2B79991112233"
    response = client.post(
        url(source, token=source.webhook_token), data=raw.encode(),
        content_type="application/x-www-form-urlencoded", headers={"Accept": "application/json"},
    )
    assert_created(response)
    (contact,) = contacts(app)
    assert contact.name == "Фёдор"


def test_a_standard_source_still_refuses_an_unreadable_phone(app, client, factory):
    anna = factory.operator("Anna", max_load=5)
    source = factory.source("API", key="api-source", weights={anna: 1})
    headers = {"X-Webhook-Token": source.webhook_token}
    response = client.post(url(source), json={"phone": "call me"}, headers=headers)
    assert response.status_code == 422
    assert contacts(app) == []
    assert [d.status for d in deliveries(app, source)] == [422]


def test_a_wrong_token_leaves_no_delivery(app, client, factory):
    source = site_form(app, factory)
    response = client.post(url(source, token="wrong"), data={"phone": "+79991234567"})
    assert response.status_code == 401
    assert deliveries(app, source) == []


def test_each_source_keeps_its_last_50_deliveries(app, client, factory):
    from crm_web.services.deliveries import PRUNE_EVERY, RECENT, recent_deliveries
    source = site_form(app, factory)
    other = factory.source("Other", key="other")
    configure(app, other, form_format="site_form")
    post_form(client, other, {"test": "test"})
    kept = {}
    for n in range(1, 3 * PRUNE_EVERY + 1):
        post_form(client, source, {"test": "test"})
        if n % 16 in (0, 15) or n < RECENT + 2:
            kept[n] = len(deliveries(app, source))
    # This process drops the older ones every PRUNE_EVERY deliveries of the source: never more than that
    # above RECENT, and exactly RECENT right after it did.
    assert kept[RECENT] == RECENT and kept[RECENT + 1] == RECENT + 1
    assert kept[PRUNE_EVERY - 1] == PRUNE_EVERY - 1
    assert max(kept.values()) <= RECENT + PRUNE_EVERY
    assert kept[PRUNE_EVERY] == kept[2 * PRUNE_EVERY] == kept[3 * PRUNE_EVERY] == RECENT
    assert len(deliveries(app, other)) == 1
    with app.app_context():
        listed = recent_deliveries(db.session, source.id)
        assert len(listed) == RECENT and listed[0].id == max(d.id for d in deliveries(app, source))
        db.session.remove()


def vk(app, factory, confirmation="a1b2c3"):
    anna = factory.operator("Anna", max_load=100)
    source = factory.source("VK", key="vk", weights={anna: 1})
    configure(app, source, form_format="vk", vk_confirmation=confirmation)
    return source


def vk_lead(source, event_id="ev-1", secret=None):
    return {
        "type": "lead_forms_new", "group_id": 1, "event_id": event_id,
        "secret": source.webhook_token if secret is None else secret,
        "object": {
            "lead_id": 7, "user_id": 123456, "form_id": 1,
            "answers": [
                {"key": "first_name", "question": "Имя", "answer": "Анна"},
                {"key": "phone_number", "question": "Телефон", "answer": "+7 999 222-33-44"},
                {"key": "custom_0", "question": "Удобное время", "answer": "вечером"},
            ],
        },
    }


def test_vk_confirmation_is_answered_with_the_sources_string(app, client, factory):
    source = vk(app, factory)
    response = client.post(url(source), json={"type": "confirmation", "group_id": 1})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "a1b2c3"


def test_a_vk_lead_is_stored_once_and_answered_ok(app, client, factory):
    source = vk(app, factory)
    for _ in range(2):  # VK repeats an event it thinks was not received
        response = client.post(url(source), json=vk_lead(source))
        assert response.status_code == 200
        assert response.get_data(as_text=True) == "ok"
    (contact,) = contacts(app)
    assert contact.name == "Анна"
    assert contact.form_fields == {"Удобное время": "вечером"}
    with app.app_context():
        lead = db.session.get(Lead, contact.lead_id)
        assert (lead.external_id, lead.phone) == ("vk:123456", "+79992223344")
        db.session.remove()


def test_a_vk_request_with_a_wrong_secret_is_401_and_stores_nothing(app, client, factory):
    source = vk(app, factory)
    response = client.post(url(source), data=json.dumps(vk_lead(source, secret="nope")),
                           content_type="application/json")
    assert response.status_code == 401
    assert contacts(app) == []
    assert deliveries(app, source) == []


def test_other_vk_events_are_ok_and_store_nothing(app, client, factory):
    source = vk(app, factory)
    response = client.post(url(source), json={"type": "wall_post_new", "secret": source.webhook_token})
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")
    assert contacts(app) == []


def test_secrets_are_masked_in_the_kept_body(app, client, factory):
    source = vk(app, factory)
    client.post(url(source), json=vk_lead(source))
    (delivery,) = deliveries(app, source)
    assert source.webhook_token not in (delivery.body or "")
    assert "Анна" in delivery.body
