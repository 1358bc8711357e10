"""POST /api/v1/contacts into a disabled source: 422 on source_id, nothing written (contract §3)."""

from __future__ import annotations

import random

import pytest

from crm_web.core.extensions import db
from crm_web.domain.errors import ValidationError
from crm_web.domain.identifiers import parse_contact_input
from crm_web.services.intake import register_contact
from tests.helpers import assert_error

from .helpers import as_json, intake


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=5)


@pytest.fixture
def closed(api, factory, anna):
    source = factory.source("Closed channel", key="closed", weights={anna: 1})
    as_json(api.patch(f"/sources/{source.id}", {"is_active": False}))
    return source


def test_staff_intake_into_a_disabled_source_is_422_and_writes_nothing(api, factory, closed, anna):
    before = factory.counts()
    response = api.post("/contacts", {"source_id": closed.id, "phone": "+79991234567", "name": "Ivan"})
    error = assert_error(response, 422, "validation_error")
    assert set(error["fields"]) == {"source_id"}
    assert error["fields"]["source_id"] == ["Source Closed channel is disabled: it takes no contacts."]
    assert factory.counts() == before
    assert as_json(api.get(f"/operators/{anna.id}"))["load"] == 0


def test_the_same_source_enabled_again_takes_contacts(api, factory, closed):
    as_json(api.patch(f"/sources/{closed.id}", {"is_active": True}))
    body = intake(api, closed.id, phone="+79991234567")
    assert body["contact"]["source_id"] == closed.id
    assert factory.count("contacts") == 1


def test_the_rule_is_the_service_s_and_reads_the_source_afresh(app, factory, anna):
    """Every staff caller gets it, also with a Source read before it was disabled."""
    from crm_web.services.sources import update_source

    source = factory.source("Late", key="late", weights={anna: 1})  # read while enabled
    factory._call(update_source, source.id, {"is_active": False})
    assert source.is_active  # the caller's copy still says so
    before = factory.counts()
    with app.app_context():
        data = parse_contact_input({"email": "a@example.org"}, "RU")
        with pytest.raises(ValidationError) as refused:
            register_contact(db.session, source, data, random.Random(1))
        db.session.remove()
    assert set(refused.value.fields) == {"source_id"}
    assert factory.counts() == before
