"""/contacts/new and a disabled source: refused on the form, nothing written."""

from __future__ import annotations

import re

import pytest

from crm_web.services.sources import update_source
from tests.helpers import csrf_from


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=5)


@pytest.fixture
def source(factory, anna):
    return factory.source(name="Website form", key="website-form", weights={anna: 1})


def submit(client, data: dict):
    token = csrf_from(client.get("/contacts/new").get_data(as_text=True))
    return client.post("/contacts/new", data={"csrf_token": token, **data})


def source_error(response) -> str:
    match = re.search(r'<small id="source_id-help" class="field-error">([^<]*)</small>',
                      response.get_data(as_text=True))
    assert match, "no error next to the source"
    return match.group(1)


def test_a_disabled_source_id_forced_into_the_form_is_refused(client, sign_in, factory, source):
    closed = factory.source(name="Closed channel", key="closed")
    factory._call(update_source, closed.id, {"is_active": False})
    sign_in()
    before = factory.counts()
    response = submit(client, {"source_id": closed.id, "phone": "+7 999 1234567"})
    assert response.status_code == 422
    assert source_error(response)
    assert factory.counts() == before


def test_a_source_disabled_while_the_form_is_handled_is_refused_on_the_form(
    client, sign_in, factory, source, monkeypatch
):
    """The form offered it (enabled when listed); the intake service refuses it."""
    import crm_web.web.contacts as view

    parse = view.parse_contact_input

    def disable_meanwhile(*args, **kwargs):
        factory._call(update_source, source.id, {"is_active": False})  # another supervisor, now
        return parse(*args, **kwargs)

    sign_in()
    token = csrf_from(client.get("/contacts/new").get_data(as_text=True))
    before = factory.counts()
    monkeypatch.setattr(view, "parse_contact_input", disable_meanwhile)
    response = client.post("/contacts/new", data={"csrf_token": token, "source_id": source.id,
                                                  "phone": "+7 999 1234567", "name": "Vera"})
    assert response.status_code == 422
    assert source_error(response) == "Source Website form is disabled: it takes no contacts."
    counts = factory.counts()
    assert counts.pop("audit_events") == before.pop("audit_events") + 1  # the change of the source
    assert counts == before


def test_the_refusal_is_shown_in_russian_on_a_russian_page(client, sign_in, factory, source, monkeypatch):
    import crm_web.web.contacts as view

    parse = view.parse_contact_input

    def disable_meanwhile(*args, **kwargs):
        factory._call(update_source, source.id, {"is_active": False})
        return parse(*args, **kwargs)

    sign_in()
    ru = {"Accept-Language": "ru-RU,ru;q=0.9"}
    token = csrf_from(client.get("/contacts/new", headers=ru).get_data(as_text=True))
    monkeypatch.setattr(view, "parse_contact_input", disable_meanwhile)
    response = client.post("/contacts/new", headers=ru,
                           data={"csrf_token": token, "source_id": source.id, "email": "a@example.org"})
    assert response.status_code == 422
    assert source_error(response) == "Источник Website form выключен: он не принимает обращений."
