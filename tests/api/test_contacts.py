"""/api/v1/contacts: staff intake, listing, one contact, manual assignment, closing."""

from __future__ import annotations

from datetime import datetime

import pytest

from crm_web.models import Contact, Operator
from tests.helpers import assert_error

from .helpers import OUT_OF_RANGE_IDS, Api, as_json, assert_page, db_state, intake

CONTACT_FIELDS = {"id", "lead_id", "source_id", "status", "operator", "created_at"}


def load_of(api, operator_id: int) -> int:
    return as_json(api.get(f"/operators/{operator_id}"))["load"]


def contact(api, contact_id: int) -> dict:
    return as_json(api.get(f"/contacts/{contact_id}"))


def assign(api, contact_id: int, operator_id):
    return api.post(f"/contacts/{contact_id}/assign", {"operator_id": operator_id})


def close(api, contact_id: int):
    return api.post(f"/contacts/{contact_id}/close")


def assert_intake_body(body: dict) -> None:
    """The body of the webhook's 201/200, contract §2."""
    assert set(body) == {"contact", "lead", "operator_available"}
    assert set(body["contact"]) >= CONTACT_FIELDS
    assert set(body["lead"]) == {"id", "created"}
    assert isinstance(body["lead"]["created"], bool)
    assert body["contact"]["lead_id"] == body["lead"]["id"]
    datetime.fromisoformat(body["contact"]["created_at"])
    if body["operator_available"]:
        assert body["contact"]["status"] == "assigned"
        assert set(body["contact"]["operator"]) == {"id", "name"}
    else:
        assert body["contact"]["status"] == "unassigned"
        assert body["contact"]["operator"] is None


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=2)


@pytest.fixture
def boris(factory):
    return factory.operator("Boris", max_load=5)


@pytest.fixture
def queue_source(factory):
    """A source with no rules: its contacts stay unassigned."""
    return factory.source("Queue", key="queue")


# --- staff intake ------------------------------------------------------------------------------

def test_staff_intake_returns_201_with_the_webhook_body(api, client, factory, anna):
    source = factory.source("Site", key="site", weights={anna: 1})
    body = intake(api, source.id, phone="8 (999) 123-45-67", name="Ivan", message="Call me")
    assert_intake_body(body)
    assert body["contact"]["source_id"] == source.id
    assert body["contact"]["operator"] == {"id": anna.id, "name": "Anna"}
    assert body["operator_available"] is True
    assert body["lead"]["created"] is True

    again = intake(api, source.id, phone="+7 999 1234567", email="IVAN@example.com")
    assert again["lead"] == {"id": body["lead"]["id"], "created": False}
    lead = as_json(api.get(f"/leads/{body['lead']['id']}"))
    assert (lead["phone"], lead["email"], lead["name"]) == ("+79991234567", "ivan@example.com", "Ivan")

    # The webhook answers with the same shape.
    hook = client.post("/webhooks/site", json={"phone": "79991234567"},
                       headers={"X-Webhook-Token": source.webhook_token})
    hook_body = as_json(hook, 201)
    assert set(hook_body) == set(body)
    assert set(hook_body["contact"]) == set(body["contact"])
    assert factory.count("contacts") == 3
    assert factory.count("leads") == 1


def test_staff_intake_without_an_available_operator_is_201_unassigned(api, factory, queue_source):
    body = intake(api, queue_source.id, email="a@example.com")
    assert_intake_body(body)
    assert body["operator_available"] is False
    assert (body["contact"]["status"], body["contact"]["operator"]) == ("unassigned", None)
    assert factory.count("contacts") == 1


def test_staff_intake_respects_max_load_and_skips_inactive_operators(api, factory, anna, boris):
    source = factory.source("Site", weights={anna: 1, boris: 1})
    as_json(api.patch(f"/operators/{boris.id}", {"is_active": False}))
    bodies = [intake(api, source.id, external_id=f"ext-{i}") for i in range(4)]
    assert [b["operator_available"] for b in bodies] == [True, True, False, False]
    assert {b["contact"]["operator"]["id"] for b in bodies[:2]} == {anna.id}
    assert load_of(api, anna.id) == 2
    assert load_of(api, boris.id) == 0
    # Closing one frees a place for the next contact.
    as_json(close(api, bodies[0]["contact"]["id"]))
    assert intake(api, source.id, external_id="ext-9")["contact"]["operator"]["id"] == anna.id
    assert load_of(api, anna.id) == 2


def test_operator_role_may_use_staff_intake(client, factory, anna, queue_source):
    user = Api(client, factory.staff("operator", operator_id=anna.id))
    assert_intake_body(intake(user, queue_source.id, phone="+79991234567"))


def test_staff_intake_ignores_unknown_fields(api, queue_source):
    body = intake(api, queue_source.id, phone="+79991234567", utm_source="ads", extra={"x": 1})
    assert_intake_body(body)


INVALID_INTAKE = [
    ({"phone": "+79991234567"}, "source_id"),
    ({"source_id": None, "phone": "+79991234567"}, "source_id"),
    ({"source_id": "1", "phone": "+79991234567"}, "source_id"),
    ({"source_id": True, "phone": "+79991234567"}, "source_id"),
    ({"source_id": 1.0, "phone": "+79991234567"}, "source_id"),
    ({"source_id": [1], "phone": "+79991234567"}, "source_id"),
    ({"source_id": "SOURCE"}, "phone"),
    ({"source_id": "SOURCE", "name": "Only a name", "message": "hi"}, "phone"),
    ({"source_id": "SOURCE", "phone": "", "email": "  "}, "phone"),
    ({"source_id": "SOURCE", "phone": "not a phone"}, "phone"),
    ({"source_id": "SOURCE", "phone": "12"}, "phone"),
    ({"source_id": "SOURCE", "phone": 79991234567}, "phone"),
    ({"source_id": "SOURCE", "email": "not-an-email"}, "email"),
    ({"source_id": "SOURCE", "email": ["a@example.com"]}, "email"),
    ({"source_id": "SOURCE", "external_id": "x" * 256}, "external_id"),
    ({"source_id": "SOURCE", "external_id": 17}, "external_id"),
    ({"source_id": "SOURCE", "phone": "+79991234567", "name": "n" * 256}, "name"),
    ({"source_id": "SOURCE", "phone": "+79991234567", "name": 5}, "name"),
    ({"source_id": "SOURCE", "phone": "+79991234567", "message": "m" * 10_001}, "message"),
]


def test_staff_intake_with_invalid_fields_is_422_and_writes_nothing(api, factory, anna):
    source = factory.source("Site", weights={anna: 1})
    before = factory.counts()
    for body, field in INVALID_INTAKE:
        if body.get("source_id") == "SOURCE":
            body = {**body, "source_id": source.id}
        response = api.post("/contacts", body)
        assert response.status_code == 422, (body, response.get_json())
        error = assert_error(response, 422, "validation_error")
        assert field in error["fields"], (body, error)
    assert factory.counts() == before
    assert load_of(api, anna.id) == 0


def test_staff_intake_for_an_unknown_source_is_422_and_writes_nothing(api, factory, queue_source):
    before = factory.counts()
    response = api.post("/contacts", {"source_id": queue_source.id + 1, "phone": "+79991234567"})
    error = assert_error(response, 422)
    assert "source_id" in error["fields"]
    assert factory.counts() == before


# --- list and read -----------------------------------------------------------------------------

@pytest.fixture
def spread(api, factory, anna, boris):
    """Contacts in every status, from two sources: returns their ids by name."""
    site = factory.source("Site", weights={anna: 1})
    calls = factory.source("Calls", weights={boris: 1})
    queue = factory.source("Queue")
    ids = {
        "anna_open": intake(api, site.id, phone="+79990000001")["contact"]["id"],
        "anna_closed": intake(api, site.id, phone="+79990000002")["contact"]["id"],
        "boris_open": intake(api, calls.id, phone="+79990000001")["contact"]["id"],
        "queued": intake(api, queue.id, email="q@example.com")["contact"]["id"],
        "queued_closed": intake(api, queue.id, email="qc@example.com")["contact"]["id"],
    }
    as_json(close(api, ids["anna_closed"]))
    as_json(close(api, ids["queued_closed"]))
    return {"ids": ids, "site": site.id, "calls": calls.id, "queue": queue.id}


def listed(api, query: str = "") -> set[int]:
    body = as_json(api.get(f"/contacts{query}"))
    items = assert_page(body, body["page"], body["per_page"], body["total"])
    assert len(items) == body["total"]
    for item in items:
        assert set(item) >= CONTACT_FIELDS
    return {item["id"] for item in items}


def test_list_and_its_filters(api, anna, boris, spread):
    ids = spread["ids"]
    assert listed(api) == set(ids.values())
    assert listed(api, "?status=assigned") == {ids["anna_open"], ids["boris_open"]}
    assert listed(api, "?status=unassigned") == {ids["queued"]}
    assert listed(api, "?status=closed") == {ids["anna_closed"], ids["queued_closed"]}
    assert listed(api, f"?operator_id={anna.id}") == {ids["anna_open"], ids["anna_closed"]}
    assert listed(api, f"?operator_id={anna.id}&status=assigned") == {ids["anna_open"]}
    assert listed(api, f"?source_id={spread['queue']}") == {ids["queued"], ids["queued_closed"]}
    assert listed(api, f"?source_id={spread['calls']}&status=closed") == set()
    lead = contact(api, ids["anna_open"])["lead_id"]
    assert listed(api, f"?lead_id={lead}") == {ids["anna_open"], ids["boris_open"]}
    assert listed(api, f"?lead_id={lead}&operator_id={boris.id}") == {ids["boris_open"]}
    assert listed(api, f"?operator_id={boris.id + 100}") == set()
    assert listed(api, "?status=") == set(ids.values())


def test_list_items_read_like_the_single_contact(api, spread):
    items = as_json(api.get("/contacts"))["items"]
    for item in items:
        assert contact(api, item["id"]) == item


INVALID_FILTERS = [
    ("status=open", "status"),
    ("status=ASSIGNED", "status"),
    ("operator_id=abc", "operator_id"),
    ("operator_id=0", "operator_id"),
    ("operator_id=-1", "operator_id"),
    ("source_id=1.5", "source_id"),
    ("lead_id=x", "lead_id"),
]


def test_invalid_list_filters_are_422(api):
    for query, field in INVALID_FILTERS:
        response = api.get(f"/contacts?{query}")
        assert response.status_code == 422, (query, response.get_json())
        error = assert_error(response, 422, "validation_error")
        assert field in error["fields"], (query, error)


def test_read_one_contact_and_404(api, anna, factory):
    source = factory.source("Site", weights={anna: 1})
    created = intake(api, source.id, phone="+79991234567", name="Ivan", message="Hello")["contact"]
    one = contact(api, created["id"])
    assert {k: one[k] for k in CONTACT_FIELDS} == {k: created[k] for k in CONTACT_FIELDS}
    assert one["status"] == "assigned"
    assert_error(api.get(f"/contacts/{created['id'] + 1}"), 404, "not_found")
    for path in (f"/contacts/{created['id'] + 1}/assign", f"/contacts/{created['id'] + 1}/close"):
        assert_error(api.post(path, {"operator_id": anna.id}), 404)


def test_ids_out_of_range_are_404_or_422(api, factory, anna, queue_source):
    queued = intake(api, queue_source.id, phone="+79991234567")["contact"]["id"]
    before = factory.counts()
    for bad in OUT_OF_RANGE_IDS:
        assert_error(api.get(f"/contacts/{bad}"), 404)
        assert_error(close(api, bad), 404)
        assert_error(assign(api, bad, anna.id), 404)
        assert "operator_id" in assert_error(assign(api, queued, bad), 422)["fields"]
        response = api.post("/contacts", {"source_id": bad, "phone": "+79991234567"})
        assert "source_id" in assert_error(response, 422)["fields"]
        for field in ("operator_id", "source_id", "lead_id"):
            assert field in assert_error(api.get(f"/contacts?{field}={bad}"), 422)["fields"]
    assert factory.counts() == before
    assert contact(api, queued)["status"] == "unassigned"
    assert load_of(api, anna.id) == 0


# --- manual assignment -------------------------------------------------------------------------

def test_manual_assignment_gives_the_contact_and_counts_the_load(app, api, anna, queue_source):
    queued = intake(api, queue_source.id, phone="+79991234567")["contact"]
    assert load_of(api, anna.id) == 0
    body = as_json(assign(api, queued["id"], anna.id))
    assert body["id"] == queued["id"]
    assert body["status"] == "assigned"
    assert body["operator"] == {"id": anna.id, "name": "Anna"}
    assert contact(api, queued["id"])["status"] == "assigned"
    assert load_of(api, anna.id) == 1
    assert db_state(app, Contact, queued["id"])["operator_id"] == anna.id


def test_manual_assignment_to_an_inactive_operator_is_409(app, api, anna, queue_source):
    queued = intake(api, queue_source.id, phone="+79991234567")["contact"]["id"]
    as_json(api.patch(f"/operators/{anna.id}", {"is_active": False}))
    before = db_state(app, Contact, queued)
    assert_error(assign(api, queued, anna.id), 409)
    assert db_state(app, Contact, queued) == before
    assert load_of(api, anna.id) == 0


def test_manual_assignment_to_an_operator_at_capacity_is_409(app, api, factory, anna, queue_source):
    site = factory.source("Site", weights={anna: 1})
    intake(api, site.id, external_id="a")
    intake(api, site.id, external_id="b")
    assert load_of(api, anna.id) == 2
    queued = intake(api, queue_source.id, external_id="c")["contact"]["id"]
    before = db_state(app, Contact, queued)
    assert_error(assign(api, queued, anna.id), 409)
    assert db_state(app, Contact, queued) == before
    assert load_of(api, anna.id) == 2

    zero = factory.operator("Zero", max_load=0)
    assert_error(assign(api, queued, zero.id), 409)
    assert load_of(api, zero.id) == 0
    assert contact(api, queued)["status"] == "unassigned"


def test_manual_assignment_of_an_assigned_or_closed_contact_is_409(
    app, api, factory, anna, boris, queue_source
):
    site = factory.source("Site", weights={anna: 1})
    taken = intake(api, site.id, external_id="a")["contact"]["id"]
    closed = intake(api, queue_source.id, external_id="b")["contact"]["id"]
    as_json(close(api, closed))
    for contact_id in (taken, closed):
        before = db_state(app, Contact, contact_id)
        assert_error(assign(api, contact_id, boris.id), 409)
        assert_error(assign(api, contact_id, anna.id), 409)
        assert db_state(app, Contact, contact_id) == before
    assert load_of(api, anna.id) == 1
    assert load_of(api, boris.id) == 0


def test_capacity_freed_by_closing_allows_a_manual_assignment(api, factory, queue_source):
    solo = factory.operator("Solo", max_load=1)
    site = factory.source("Site", weights={solo: 1})
    first = intake(api, site.id, external_id="a")["contact"]["id"]
    queued = intake(api, queue_source.id, external_id="b")["contact"]["id"]
    assert_error(assign(api, queued, solo.id), 409)
    as_json(close(api, first))
    assert load_of(api, solo.id) == 0
    assert as_json(assign(api, queued, solo.id))["status"] == "assigned"
    assert load_of(api, solo.id) == 1


INVALID_ASSIGN = [
    {}, {"operator_id": None}, {"operator_id": "1"}, {"operator_id": True}, {"operator_id": 1.0},
]


def test_manual_assignment_with_an_invalid_or_unknown_operator_is_422(app, api, anna, queue_source):
    queued = intake(api, queue_source.id, phone="+79991234567")["contact"]["id"]
    before = db_state(app, Contact, queued)
    for body in [*INVALID_ASSIGN, {"operator_id": anna.id + 100}]:
        response = api.post(f"/contacts/{queued}/assign", body)
        assert response.status_code == 422, (body, response.get_json())
        error = assert_error(response, 422)
        assert "operator_id" in error["fields"]
    assert db_state(app, Contact, queued) == before


def test_operator_role_may_assign_only_to_its_own_operator(app, client, factory, anna, boris, queue_source):
    api_anna = Api(client, factory.staff("operator", operator_id=anna.id))
    sup = Api(client, factory.staff("supervisor"))
    first = intake(sup, queue_source.id, external_id="a")["contact"]["id"]
    second = intake(sup, queue_source.id, external_id="b")["contact"]["id"]

    before = db_state(app, Contact, first)
    assert_error(assign(api_anna, first, boris.id), 403, "forbidden")
    assert db_state(app, Contact, first) == before
    assert load_of(sup, boris.id) == 0

    body = as_json(assign(api_anna, first, anna.id))
    assert body["operator"] == {"id": anna.id, "name": "Anna"}
    assert load_of(sup, anna.id) == 1
    assert contact(sup, second)["status"] == "unassigned"


# --- closing -----------------------------------------------------------------------------------

def test_close_frees_the_load_and_a_second_close_is_409(app, api, factory, anna):
    site = factory.source("Site", weights={anna: 1})
    created = intake(api, site.id, phone="+79991234567")["contact"]["id"]
    assert load_of(api, anna.id) == 1
    body = as_json(close(api, created))
    assert body["status"] == "closed"
    assert body["operator"] == {"id": anna.id, "name": "Anna"}
    assert body["closed_at"] is not None
    assert contact(api, created)["status"] == "closed"
    assert load_of(api, anna.id) == 0

    before = db_state(app, Contact, created)
    operator_before = db_state(app, Operator, anna.id)
    assert_error(close(api, created), 409)
    assert db_state(app, Contact, created) == before
    assert db_state(app, Operator, anna.id) == operator_before


def test_a_supervisor_may_close_an_unassigned_contact(api, anna, queue_source):
    queued = intake(api, queue_source.id, phone="+79991234567")["contact"]["id"]
    body = as_json(close(api, queued))
    assert (body["status"], body["operator"]) == ("closed", None)
    assert listed(api, "?status=unassigned") == set()
    assert_error(assign(api, queued, anna.id), 409)
    assert load_of(api, anna.id) == 0


def test_operator_role_may_close_only_its_own_contacts(app, client, factory, anna, boris, queue_source):
    sup = Api(client, factory.staff("supervisor"))
    api_anna = Api(client, factory.staff("operator", operator_id=anna.id))
    site = factory.source("Site", weights={anna: 1})
    calls = factory.source("Calls", weights={boris: 1})
    own = intake(sup, site.id, external_id="own")["contact"]["id"]
    other = intake(sup, calls.id, external_id="other")["contact"]["id"]
    queued = intake(sup, queue_source.id, external_id="queued")["contact"]["id"]

    for contact_id in (other, queued):
        before = db_state(app, Contact, contact_id)
        assert_error(close(api_anna, contact_id), 403, "forbidden")
        assert db_state(app, Contact, contact_id) == before
    assert load_of(sup, boris.id) == 1

    assert as_json(close(api_anna, own))["status"] == "closed"
    assert load_of(sup, anna.id) == 0
    assert_error(close(api_anna, own), 409)
