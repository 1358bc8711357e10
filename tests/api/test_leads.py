"""/api/v1/leads: search by normalised identifiers, one lead with its contacts."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.helpers import assert_error

from .helpers import OUT_OF_RANGE_IDS, Api, as_json, assert_page, intake

LEAD_FIELDS = {"id", "external_id", "phone", "email", "name", "created_at"}
CONTACT_FIELDS = {"id", "lead_id", "source_id", "status", "operator", "created_at"}


@pytest.fixture
def leads(api, factory):
    """Three leads made through staff intake; returns their ids."""
    source = factory.source("Site")
    ivan = intake(api, source.id, phone="8 (999) 123-45-67", email=" Ivan@Example.COM ", name="Ivan")
    olga = intake(api, source.id, external_id=" crm-42 ", name="Olga")
    petr = intake(api, source.id, phone="+7 912 000-11-22")
    return {"ivan": ivan["lead"]["id"], "olga": olga["lead"]["id"], "petr": petr["lead"]["id"]}


def search(api, **query) -> list[int]:
    body = as_json(api.get("/leads", query_string=query))
    items = assert_page(body, 1, 50, body["total"])
    assert len(items) == body["total"]
    return [item["id"] for item in items]


def test_list_is_paginated_and_has_no_contacts(api, leads):
    body = as_json(api.get("/leads"))
    items = assert_page(body, 1, 50, 3)
    assert {item["id"] for item in items} == set(leads.values())
    for item in items:
        assert set(item) >= LEAD_FIELDS
        assert "contacts" not in item
    ivan = next(item for item in items if item["id"] == leads["ivan"])
    assert {k: ivan[k] for k in LEAD_FIELDS - {"id", "created_at"}} == {
        "external_id": None, "phone": "+79991234567", "email": "ivan@example.com", "name": "Ivan",
    }
    datetime.fromisoformat(ivan["created_at"])


def test_empty_list(api):
    assert assert_page(as_json(api.get("/leads")), 1, 50, 0) == []


SEARCHES = [
    ({"phone": "8 (999) 123-45-67"}, "ivan"),
    ({"phone": "+79991234567"}, "ivan"),
    ({"phone": "+7 999 1234567"}, "ivan"),
    ({"phone": "79991234567"}, "ivan"),
    ({"phone": " 89991234567 "}, "ivan"),
    ({"phone": "8-912-000-11-22"}, "petr"),
    ({"email": "ivan@example.com"}, "ivan"),
    ({"email": "  IVAN@EXAMPLE.COM "}, "ivan"),
    ({"external_id": "crm-42"}, "olga"),
    ({"external_id": "  crm-42  "}, "olga"),
    ({"phone": "89991234567", "email": "ivan@example.com"}, "ivan"),
]


def test_filters_are_normalised_like_intake(api, leads):
    for query, who in SEARCHES:
        assert search(api, **query) == [leads[who]], query


def test_filters_without_a_match_and_blank_filters(api, leads):
    assert search(api, phone="+79990000000") == []
    assert search(api, email="nobody@example.com") == []
    assert search(api, external_id="crm-43") == []
    assert search(api, external_id="CRM-42") == []  # external ids are only trimmed
    # Two identifiers of different leads: no lead has both.
    assert search(api, phone="89991234567", external_id="crm-42") == []
    assert sorted(search(api, phone="", email=" ")) == sorted(leads.values())


INVALID_FILTERS = [
    ({"phone": "call me"}, "phone"),
    ({"phone": "12"}, "phone"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@"}, "email"),
    ({"external_id": "x" * 256}, "external_id"),
]


def test_invalid_filters_are_422(api, leads):
    for query, field in INVALID_FILTERS:
        response = api.get("/leads", query_string=query)
        assert response.status_code == 422, (query, response.get_json())
        error = assert_error(response, 422, "validation_error")
        assert field in error["fields"], (query, error)


def test_one_lead_with_its_contacts_in_time_order(api, factory):
    anna = factory.operator("Anna")
    site = factory.source("Site", weights={anna: 1})
    calls = factory.source("Calls")
    first = intake(api, site.id, phone="+79991234567", name="Ivan", message="first")
    second = intake(api, calls.id, phone="89991234567", email="ivan@example.com", message="second")
    third = intake(api, site.id, email="IVAN@example.com", message="third")
    other = intake(api, site.id, phone="+79990000000")
    lead_id = first["lead"]["id"]
    assert second["lead"]["id"] == third["lead"]["id"] == lead_id != other["lead"]["id"]
    as_json(api.post(f"/contacts/{second['contact']['id']}/close"))

    lead = as_json(api.get(f"/leads/{lead_id}"))
    assert set(lead) >= LEAD_FIELDS | {"contacts"}
    assert {k: lead[k] for k in LEAD_FIELDS - {"created_at"}} == {
        "id": lead_id,
        "external_id": None,
        "phone": "+79991234567",
        "email": "ivan@example.com",
        "name": "Ivan",
    }
    contacts = lead["contacts"]
    assert [c["id"] for c in contacts] == [b["contact"]["id"] for b in (first, second, third)]
    times = [datetime.fromisoformat(c["created_at"]) for c in contacts]
    assert times == sorted(times)
    for c in contacts:
        assert set(c) >= CONTACT_FIELDS
        assert c["lead_id"] == lead_id
        assert as_json(api.get(f"/contacts/{c['id']}")) == c
    assert [(c["source_id"], c["status"]) for c in contacts] == [
        (site.id, "assigned"), (calls.id, "closed"), (site.id, "assigned"),
    ]
    assert contacts[0]["operator"] == {"id": anna.id, "name": "Anna"}


def test_a_lead_without_further_contacts_has_one(api, factory):
    source = factory.source("Site")
    body = intake(api, source.id, external_id="solo")
    lead = as_json(api.get(f"/leads/{body['lead']['id']}"))
    assert [c["id"] for c in lead["contacts"]] == [body["contact"]["id"]]
    assert lead["contacts"][0]["status"] == "unassigned"


def test_missing_lead_is_404(api, leads):
    assert_error(api.get(f"/leads/{max(leads.values()) + 1}"), 404, "not_found")
    assert_error(api.get("/leads/0"), 404)


def test_a_lead_id_out_of_range_is_404(api):
    for bad in OUT_OF_RANGE_IDS:
        assert_error(api.get(f"/leads/{bad}"), 404)


def test_operator_role_may_search_and_read_leads(client, factory, api, leads):
    anna = factory.operator("Anna")
    user = Api(client, factory.staff("operator", operator_id=anna.id))
    assert as_json(user.get("/leads", query_string={"phone": "89991234567"}))["total"] == 1
    assert as_json(user.get(f"/leads/{leads['ivan']}"))["id"] == leads["ivan"]
