"""/contacts/new: the intake form and its result page."""

from __future__ import annotations

import re

import pytest

from crm_web.models import Contact, Lead
from tests.helpers import csrf_from


def page(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=5)


@pytest.fixture
def source(factory, anna):
    return factory.source(name="Website form", key="website-form", weights={anna: 1})


def submit(client, data: dict):
    token = csrf_from(page(client.get("/contacts/new")))
    return client.post("/contacts/new", data={"csrf_token": token, **data})


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/contacts/new")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_form_offers_only_enabled_sources(client, sign_in, factory, source):
    factory.source(name="Old channel", key="old")
    from crm_web.services.sources import update_source

    disabled = factory.source(name="Closed channel", key="closed")
    factory._call(update_source, disabled.id, {"is_active": False})
    sign_in()
    html = page(client.get("/contacts/new"))
    assert "Website form" in html and "Old channel" in html
    assert "Closed channel" not in html
    for field in ("source_id", "external_id", "phone", "email", "name", "message"):
        assert f'name="{field}"' in html


def test_operator_users_may_register_contacts_too(client, sign_in, source):
    sign_in("operator")
    assert client.get("/contacts/new").status_code == 200


def test_valid_submit_assigns_and_says_who_got_it(client, sign_in, source, anna, fetch):
    sign_in()
    response = submit(client, {"source_id": source.id, "phone": "8 (999) 123-45-67", "name": "Vera",
                               "message": "Call me\n  after six"})
    assert response.status_code == 303
    match = re.fullmatch(r"/contacts/(\d+)\?created=1", response.headers["Location"])
    assert match
    contact = fetch(Contact, int(match.group(1)))
    assert contact.operator_id == anna.id and contact.message == "Call me\n  after six"
    assert fetch(Lead, contact.lead_id).phone == "+79991234567"

    result = page(client.get(response.headers["Location"]))
    assert "Assigned to Anna" in result
    assert "new lead" in result
    assert f'href="/leads/{contact.lead_id}"' in result


def test_no_operator_available_says_the_contact_is_queued(client, sign_in, factory):
    lonely = factory.source(name="No rules", key="no-rules")
    sign_in()
    response = submit(client, {"source_id": lonely.id, "email": "a@example.org"})
    assert response.status_code == 303
    result = page(client.get(response.headers["Location"]))
    assert "No operator is available" in result and "queued" in result
    assert "unassigned" in result
    assert factory.count("contacts") == 1


def test_a_returning_lead_is_recognised_across_phone_formats(client, sign_in, source, factory):
    sign_in()
    submit(client, {"source_id": source.id, "phone": "+7 999 1234567"})
    response = submit(client, {"source_id": source.id, "phone": "79991234567", "name": "Again"})
    result = page(client.get(response.headers["Location"]))
    assert "returning lead" in result
    assert "1 earlier contact" in result
    assert factory.count("leads") == 1 and factory.count("contacts") == 2


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"phone": "12ab"}, "phone", "Phone number must not contain letters."),
        ({"phone": "123"}, "phone", "Not a possible phone number."),
        ({"email": "not-an-email"}, "email", "Not a valid email address"),
        ({"name": "Nobody"}, "external_id", "Give at least one of external_id, phone or email."),
        ({"external_id": "x" * 256}, "external_id", "255"),
        ({"phone": "+7 999 1234567", "name": "n" * 256}, "name", "255"),
        ({"phone": "+7 999 1234567", "message": "m" * 10_001}, "message", "10000"),
    ],
)
def test_each_invalid_field_is_reported_next_to_it_and_nothing_is_written(
    client, sign_in, source, factory, data, field, message
):
    sign_in()
    before = factory.counts()
    response = submit(client, {"source_id": source.id, **data})
    assert response.status_code == 422
    html = page(response)
    error = re.search(rf'<small id="{field}-help" class="field-error">([^<]*)</small>', html)
    assert error, f"no error next to {field}"
    assert message in error.group(1) or message in html
    assert factory.counts() == before


def test_no_identifier_marks_all_three_identifier_fields(client, sign_in, source):
    sign_in()
    html = page(submit(client, {"source_id": source.id, "name": "Nobody", "message": "hi"}))
    for field in ("external_id", "phone", "email"):
        assert f'id="{field}-help" class="field-error"' in html
    # What was typed stays in the form.
    assert 'value="Nobody"' in html


def test_unknown_or_disabled_source_is_refused(client, sign_in, source, factory):
    from crm_web.services.sources import update_source

    sign_in()
    token = csrf_from(page(client.get("/contacts/new")))
    factory._call(update_source, source.id, {"is_active": False})
    for source_id in (source.id, 999_999, "abc"):
        response = client.post(
            "/contacts/new", data={"csrf_token": token, "source_id": source_id, "phone": "+7 999 1234567"}
        )
        assert response.status_code == 422
    assert factory.count("contacts") == 0


def test_no_enabled_source_explains_what_to_do(client, sign_in):
    sign_in()
    html = page(client.get("/contacts/new"))
    assert "no enabled source" in html
    assert 'name="phone"' not in html


def test_post_without_csrf_token_is_refused_and_writes_nothing(client, sign_in, source, factory):
    sign_in()
    response = client.post("/contacts/new", data={"source_id": source.id, "phone": "+7 999 1234567"})
    assert response.status_code == 400
    assert factory.count("contacts") == 0 and factory.count("leads") == 0


def test_result_page_escapes_what_the_client_sent(client, sign_in, source):
    sign_in()
    response = submit(client, {"source_id": source.id, "phone": "+7 999 1234567",
                               "name": "<script>alert(1)</script>", "message": "<b>hi</b>"})
    html = page(client.get(response.headers["Location"]))
    assert "<script>alert(1)</script>" not in html and "<b>hi</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
