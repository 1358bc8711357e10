"""`q` on GET /api/v1/contacts and /api/v1/leads: the list pages' search, with the other filters."""

from __future__ import annotations

import pytest

from .helpers import as_json, intake


@pytest.fixture
def made(api, factory):
    """Contacts of three leads made through staff intake; returns (contact id, lead id) by nickname."""
    source = factory.source("Site")
    other = factory.source("Calls")
    bodies = {
        "anna": intake(api, source.id, phone="+7 999 123-45-67", email="anna.petrova@mail.ru",
                       name="Анна Семёнова", message="Перезвоните после обеда"),
        "ivan": intake(api, other.id, phone="8 916 555-00-11", name="Ivan", message="A quote, please"),
        "again": intake(api, other.id, phone="+7 999 123 45 67", message="Второй раз"),
    }
    made = {name: (body["contact"]["id"], body["lead"]["id"]) for name, body in bodies.items()}
    made["sources"] = (source.id, other.id)
    return made


def ids(api, path: str, **query) -> list[int]:
    body = as_json(api.get(path, query_string=query))
    assert body["total"] == len(body["items"])
    return [item["id"] for item in body["items"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [("анна", ["anna"]), ("СЕМЕНОВА", ["anna"]), ("123-45-67", ["anna"]), ("(916) 555", ["ivan"]),
     ("PETROVA@MAIL", ["anna"]), ("555", []), ("nobody", [])],
)
def test_leads_take_q(api, made, q, expected):
    assert ids(api, "/leads", q=q) == sorted({made[name][1] for name in expected}, reverse=True)


@pytest.mark.parametrize(
    ("q", "expected"),
    [("обеда", ["anna"]), ("QUOTE", ["ivan"]), ("1234567", ["again", "anna"]),
     ("petrova@", ["again", "anna"]), ("ВТОРОЙ", ["again"]), ("nobody", [])],
)
def test_contacts_take_q(api, made, q, expected):
    assert ids(api, "/contacts", q=q) == sorted((made[name][0] for name in expected), reverse=True)


def test_q_combines_with_the_other_filters_and_after(api, made):
    _site, calls = made["sources"]
    assert ids(api, "/contacts", q="1234567", source_id=calls) == [made["again"][0]]
    after = as_json(api.get("/contacts", query_string={"q": "1234567", "after": made["again"][0]}))
    assert [item["id"] for item in after["items"]] == [made["anna"][0]]  # the total is the whole list's
    assert ids(api, "/leads", q="1234567", phone="+79161234567") == []


def test_an_over_long_q_is_422_on_q(api, made):
    for path in ("/contacts", "/leads"):
        body = as_json(api.get(path, query_string={"q": "x" * 321}), 422)
        assert "q" in body["error"]["fields"], body


def test_q_is_declared_in_the_openapi_document(api):
    document = as_json(api.client.get("/api/v1/openapi.json"))
    for path in ("/api/v1/contacts", "/api/v1/leads"):
        names = [p["name"] for p in document["paths"][path]["get"]["parameters"]]
        assert "q" in names, names
