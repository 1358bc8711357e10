"""/api/v1/operators: list, create, read, change, delete."""

from __future__ import annotations

import pytest

from crm_web.models import Operator
from tests.helpers import assert_error

from .helpers import (
    API,
    OUT_OF_RANGE_IDS,
    as_json,
    assert_page,
    db_state,
    intake,
    rules_of,
)

OPERATOR_FIELDS = {"id", "name", "is_active", "max_load", "load"}



def test_list_is_paginated_and_each_operator_has_the_documented_fields(api, factory):
    empty = as_json(api.get("/operators"))
    assert assert_page(empty, 1, 50, 0) == []

    boris = factory.operator("Boris", max_load=3, is_active=False)
    anna = factory.operator("Anna", max_load=7)
    items = assert_page(as_json(api.get("/operators")), 1, 50, 2)
    assert [item["id"] for item in items] == [anna.id, boris.id]  # by name
    for item in items:
        assert set(item) >= OPERATOR_FIELDS
    assert {k: items[0][k] for k in OPERATOR_FIELDS} == {
        "id": anna.id, "name": "Anna", "is_active": True, "max_load": 7, "load": 0,
    }
    assert {k: items[1][k] for k in OPERATOR_FIELDS} == {
        "id": boris.id, "name": "Boris", "is_active": False, "max_load": 3, "load": 0,
    }


def test_operator_role_may_read_operators(client, factory):
    anna = factory.operator("Anna")
    user = factory.staff("operator", operator_id=anna.id)
    assert as_json(client.get(f"{API}/operators", headers=user.headers))["total"] == 1
    assert as_json(client.get(f"{API}/operators/{anna.id}", headers=user.headers))["name"] == "Anna"


# --- create ------------------------------------------------------------------------------------

def test_create_returns_201_and_the_operator(api, factory):
    response = api.post("/operators", json={"name": "  Anna  ", "max_load": 4})
    created = as_json(response, 201)
    assert {k: created[k] for k in OPERATOR_FIELDS - {"id"}} == {
        "name": "Anna", "is_active": True, "max_load": 4, "load": 0,
    }
    assert isinstance(created["id"], int)
    assert as_json(api.get(f"/operators/{created['id']}")) == created
    assert factory.count("operators") == 1


@pytest.mark.parametrize("max_load", [0, 1, 10_000])
def test_create_accepts_max_load_bounds_and_inactive(api, max_load):
    body = {"name": "Anna", "max_load": max_load, "is_active": False}
    created = as_json(api.post("/operators", json=body), 201)
    assert created["max_load"] == max_load
    assert created["is_active"] is False


INVALID_CREATE = [
    ({"max_load": 3}, "name"),
    ({"name": "Anna"}, "max_load"),
    ({"name": "", "max_load": 3}, "name"),
    ({"name": "   ", "max_load": 3}, "name"),
    ({"name": None, "max_load": 3}, "name"),
    ({"name": 42, "max_load": 3}, "name"),
    ({"name": ["Anna"], "max_load": 3}, "name"),
    ({"name": "A" * 121, "max_load": 3}, "name"),
    ({"name": "An\x00na", "max_load": 3}, "name"),
    ({"name": "Anna", "max_load": None}, "max_load"),
    ({"name": "Anna", "max_load": -1}, "max_load"),
    ({"name": "Anna", "max_load": 10_001}, "max_load"),
    ({"name": "Anna", "max_load": "3"}, "max_load"),
    ({"name": "Anna", "max_load": 3.5}, "max_load"),
    ({"name": "Anna", "max_load": 3.0}, "max_load"),
    ({"name": "Anna", "max_load": True}, "max_load"),
    ({"name": "Anna", "max_load": 10**30}, "max_load"),
    ({"name": "Anna", "max_load": 3, "is_active": "yes"}, "is_active"),
    ({"name": "Anna", "max_load": 3, "is_active": 1}, "is_active"),
]


def test_create_with_invalid_fields_is_422_and_writes_nothing(api, factory):
    factory.operator("Existing")
    before = factory.counts()
    for body, field in INVALID_CREATE:
        response = api.post("/operators", body)
        assert response.status_code == 422, (body, response.get_json())
        error = assert_error(response, 422, "validation_error")
        assert field in error["fields"], (body, error)
    assert factory.counts() == before


def test_create_reports_every_invalid_field_at_once(api):
    error = assert_error(
        api.post("/operators", json={"name": 1, "max_load": -5, "is_active": "x"}),
        422,
    )
    assert {"name", "max_load", "is_active"} <= set(error["fields"])


def test_create_with_a_duplicate_name_is_409_and_writes_nothing(api, factory):
    factory.operator("Anna")
    before = factory.counts()
    for name in ("Anna", "  Anna "):
        response = api.post("/operators", json={"name": name, "max_load": 2})
        assert_error(response, 409)
    assert factory.counts() == before


def test_the_name_of_a_deleted_operator_can_be_used_again(api, factory):
    anna = factory.operator("Anna")
    assert api.delete(f"/operators/{anna.id}").status_code == 200
    again = as_json(api.post("/operators", json={"name": "Anna", "max_load": 1}), 201)
    assert again["id"] != anna.id


# --- read --------------------------------------------------------------------------------------

def test_read_one_and_404_for_missing(api, factory):
    anna = factory.operator("Anna", max_load=2)
    body = as_json(api.get(f"/operators/{anna.id}"))
    assert {k: body[k] for k in OPERATOR_FIELDS} == {
        "id": anna.id, "name": "Anna", "is_active": True, "max_load": 2, "load": 0,
    }
    assert_error(api.get(f"/operators/{anna.id + 1000}"), 404, "not_found")
    assert_error(api.get("/operators/0"), 404)


def test_an_id_out_of_range_is_404_on_get(api, factory):
    before = factory.counts()
    for bad in OUT_OF_RANGE_IDS:
        assert_error(api.get(f"/operators/{bad}"), 404)
    assert factory.counts() == before


def test_an_id_out_of_range_is_404_on_patch_and_delete(api, factory):
    factory.operator("Anna")
    before = factory.counts()
    for bad in OUT_OF_RANGE_IDS:
        for method, body in (("PATCH", {"max_load": 1}), ("DELETE", None)):
            response = api.open(method, f"/operators/{bad}", body)
            allow = response.headers.get("Allow")
            assert response.status_code == 404, (method, bad, response.status_code, allow)
            assert_error(response, 404)
    assert factory.counts() == before


def test_load_counts_the_operators_active_contacts(api, factory):
    anna = factory.operator("Anna", max_load=5)
    source = factory.source(weights={anna: 1})
    ids = [
        intake(api, source.id, phone=f"+7999123456{i}")["contact"]["id"] for i in range(3)
    ]
    assert as_json(api.get(f"/operators/{anna.id}"))["load"] == 3
    as_json(api.post(f"/contacts/{ids[0]}/close"))
    assert as_json(api.get(f"/operators/{anna.id}"))["load"] == 2
    listed = as_json(api.get("/operators"))["items"]
    assert listed[0]["load"] == 2


# --- change ------------------------------------------------------------------------------------

def test_patch_changes_only_the_given_fields(api, factory):
    anna = factory.operator("Anna", max_load=3)
    body = as_json(api.patch(f"/operators/{anna.id}", json={"max_load": 8}))
    assert (body["name"], body["max_load"], body["is_active"]) == ("Anna", 8, True)
    body = as_json(
        api.patch(f"/operators/{anna.id}", json={"name": "Anna K", "is_active": False})
    )
    assert (body["name"], body["max_load"], body["is_active"]) == ("Anna K", 8, False)
    again = as_json(api.get(f"/operators/{anna.id}"))
    assert (again["name"], again["max_load"], again["is_active"]) == ("Anna K", 8, False)
    # Its own name again is not a duplicate.
    assert api.patch(f"/operators/{anna.id}", json={"name": "Anna K"}).status_code == 200


def test_patch_may_lower_max_load_below_the_current_load(api, factory):
    anna = factory.operator("Anna", max_load=3)
    source = factory.source(weights={anna: 1})
    intake(api, source.id, phone="+79991234561")
    intake(api, source.id, phone="+79991234562")
    body = as_json(api.patch(f"/operators/{anna.id}", json={"max_load": 1}))
    assert (body["max_load"], body["load"]) == (1, 2)
    third = intake(api, source.id, phone="+79991234563")
    assert third["operator_available"] is False


INVALID_PATCH = [
    ({"name": ""}, "name"),
    ({"name": 7}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"max_load": -1}, "max_load"),
    ({"max_load": 10_001}, "max_load"),
    ({"max_load": "5"}, "max_load"),
    ({"max_load": False}, "max_load"),
    ({"is_active": "false"}, "is_active"),
    ({"is_active": 0}, "is_active"),
    ({"max_load": 5, "is_active": "no"}, "is_active"),
]


def test_patch_with_invalid_fields_is_422_and_changes_nothing(app, api, factory):
    anna = factory.operator("Anna", max_load=3)
    before = db_state(app, Operator, anna.id)
    for body, field in INVALID_PATCH:
        response = api.patch(f"/operators/{anna.id}", body)
        assert response.status_code == 422, (body, response.get_json())
        error = assert_error(response, 422)
        assert field in error["fields"], (body, error)
        assert db_state(app, Operator, anna.id) == before, body


def test_patch_to_a_duplicate_name_is_409_and_changes_nothing(app, api, factory):
    factory.operator("Anna")
    boris = factory.operator("Boris", max_load=2)
    before = db_state(app, Operator, boris.id)
    response = api.patch(f"/operators/{boris.id}", json={"name": "Anna", "max_load": 9})
    assert_error(response, 409)
    assert db_state(app, Operator, boris.id) == before


def test_patch_missing_operator_is_404(api, factory):
    anna = factory.operator("Anna")
    assert_error(api.patch(f"/operators/{anna.id + 1}", json={"max_load": 2}), 404)


# --- delete ------------------------------------------------------------------------------------

def test_delete_returns_active_contacts_to_the_queue_and_removes_rules(app, api, factory):
    anna = factory.operator("Anna", max_load=10)
    boris = factory.operator("Boris", max_load=10)
    site = factory.source("Site", weights={anna: 1})
    calls = factory.source("Calls", weights={anna: 2, boris: 3})
    active = [intake(api, site.id, phone=f"+7999123450{i}")["contact"] for i in range(2)]
    closed = intake(api, site.id, phone="+79991234509")["contact"]
    assert all(c["operator"]["id"] == anna.id for c in [*active, closed])
    as_json(api.post(f"/contacts/{closed['id']}/close"))
    contacts_before = factory.count("contacts")

    response = api.delete(f"/operators/{anna.id}")
    body = as_json(response)
    assert body["contacts_returned_to_queue"] == 2

    assert_error(api.get(f"/operators/{anna.id}"), 404)
    listed = as_json(api.get("/operators"))
    assert [item["id"] for item in listed["items"]] == [boris.id]
    assert factory.count("contacts") == contacts_before
    for contact in active:
        now = as_json(api.get(f"/contacts/{contact['id']}"))
        assert (now["status"], now["operator"]) == ("unassigned", None)
    queue = as_json(api.get("/contacts?status=unassigned"))
    assert {c["id"] for c in queue["items"]} == {c["id"] for c in active}
    kept = as_json(api.get(f"/contacts/{closed['id']}"))
    assert kept["status"] == "closed"
    assert kept["operator"] == {"id": anna.id, "name": "Anna"}

    assert rules_of(app, site.id) == {}
    assert set(rules_of(app, calls.id)) == {boris.id}
    assert as_json(api.get(f"/sources/{site.id}/distribution")) == {"rules": []}
    calls_rules = as_json(api.get(f"/sources/{calls.id}/distribution"))["rules"]
    assert [(r["operator_id"], r["share"]) for r in calls_rules] == [(boris.id, 1.0)]

    # A new contact of the site has nobody to go to; one of the call centre goes to Boris.
    assert intake(api, site.id, email="new@example.com")["operator_available"] is False
    assert intake(api, calls.id, email="new2@example.com")["contact"]["operator"]["id"] == boris.id
    # The returned contacts can be assigned again.
    assigned = as_json(
        api.post(f"/contacts/{active[0]['id']}/assign", json={"operator_id": boris.id})
    )
    assert assigned["status"] == "assigned"

    # Deleted is gone for every operator endpoint.
    assert_error(api.delete(f"/operators/{anna.id}"), 404)
    assert_error(api.patch(f"/operators/{anna.id}", json={"max_load": 1}), 404)


def test_delete_missing_operator_is_404_and_changes_nothing(api, factory):
    anna = factory.operator("Anna")
    before = factory.counts()
    assert_error(api.delete(f"/operators/{anna.id + 1}"), 404)
    assert factory.counts() == before


def test_manual_assignment_to_a_deleted_operator_is_refused(api, factory):
    anna = factory.operator("Anna")
    source = factory.source()
    contact = intake(api, source.id, phone="+79991234567")["contact"]
    api.delete(f"/operators/{anna.id}")
    response = api.post(f"/contacts/{contact['id']}/assign", json={"operator_id": anna.id})
    assert response.status_code in (404, 409, 422)
    assert_error(response, response.status_code)
    assert as_json(api.get(f"/contacts/{contact['id']}"))["status"] == "unassigned"


# --- role --------------------------------------------------------------------------------------

def test_operator_role_may_not_create_change_or_delete_operators(app, api, client, factory):
    anna = factory.operator("Anna", max_load=3)
    source = factory.source(weights={anna: 1})
    contact = intake(api, source.id, phone="+79991234567")["contact"]
    user = factory.staff("operator", operator_id=anna.id)
    before_counts = factory.counts()
    before = db_state(app, Operator, anna.id)

    response = client.post(f"{API}/operators", json={"name": "Eve", "max_load": 1}, headers=user.headers)
    assert_error(response, 403, "forbidden")
    for body in ({"max_load": 100}, {"name": "Anna 2"}, {"is_active": False}):
        assert_error(client.patch(f"{API}/operators/{anna.id}", json=body, headers=user.headers), 403)
    assert_error(client.delete(f"{API}/operators/{anna.id}", headers=user.headers), 403)

    assert factory.counts() == before_counts
    assert db_state(app, Operator, anna.id) == before
    assert rules_of(app, source.id) == {anna.id: 1}
    assert as_json(api.get(f"/contacts/{contact['id']}"))["status"] == "assigned"
