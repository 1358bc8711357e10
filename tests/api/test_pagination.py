"""Pagination of every list: {"items", "page", "per_page", "total"}, default 50, max 100."""

from __future__ import annotations

import pytest

from crm_web.core.extensions import db
from crm_web.domain.identifiers import parse_contact_input
from crm_web.services.intake import register_contact
from crm_web.services.operators import create_operator
from crm_web.services.sources import create_source
from tests.helpers import assert_error

from .helpers import Api, as_json, assert_page

LISTS = ["/operators", "/sources", "/contacts", "/leads"]


def make(app, kind: str, count: int) -> None:
    """`count` operators, sources, or contacts (each of a new lead), through the services."""
    with app.app_context():
        session = db.session
        if kind == "/operators":
            for i in range(count):
                create_operator(session, {"name": f"Operator {i:03}", "max_load": 1})
        elif kind == "/sources":
            for i in range(count):
                create_source(session, {"name": f"Source {i:03}"})
        else:
            source = create_source(session, {"name": "Site"})
            rng = app.extensions["crm_rng"]
            for i in range(count):
                register_contact(session, source, parse_contact_input({"external_id": f"e{i}"}, "RU"), rng)
        session.remove()


def walk(api, path: str, per_page: int, total: int) -> list[int]:
    """Every page in turn; the ids in page order."""
    ids: list[int] = []
    pages = -(-total // per_page)
    for page in range(1, pages + 1):
        body = as_json(api.get(f"{path}?page={page}&per_page={per_page}"))
        items = assert_page(body, page, per_page, total)
        expected = per_page if page < pages else total - per_page * (pages - 1)
        assert len(items) == expected, (path, page)
        ids.extend(item["id"] for item in items)
    return ids


@pytest.mark.parametrize("path", LISTS)
def test_every_list_pages_through_all_items_once(app, api, path):
    make(app, path, 5)
    ids = walk(api, path, 2, 5)
    assert len(ids) == len(set(ids)) == 5
    everything = assert_page(as_json(api.get(path)), 1, 50, 5)
    assert [item["id"] for item in everything] == ids
    beyond = as_json(api.get(f"{path}?page=4&per_page=2"))
    assert assert_page(beyond, 4, 2, 5) == []
    one = as_json(api.get(f"{path}?per_page=1&page=5"))
    assert len(assert_page(one, 5, 1, 5)) == 1
    assert one["items"][0]["id"] == ids[-1]


@pytest.mark.parametrize("path", LISTS)
def test_an_empty_list_is_an_empty_page(api, path):
    assert assert_page(as_json(api.get(path)), 1, 50, 0) == []
    assert assert_page(as_json(api.get(f"{path}?page=3&per_page=10")), 3, 10, 0) == []


BAD_QUERIES = [
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=abc", "page"),
    ("page=1.5", "page"),
    ("per_page=0", "per_page"),
    ("per_page=-5", "per_page"),
    ("per_page=101", "per_page"),
    ("per_page=1000", "per_page"),
    ("per_page=ten", "per_page"),
    ("page=0&per_page=101", "per_page"),
]


@pytest.mark.parametrize("path", LISTS)
def test_page_and_per_page_out_of_bounds_are_422(app, api, factory, path):
    make(app, path, 2)
    before = factory.counts()
    for query, field in BAD_QUERIES:
        response = api.get(f"{path}?{query}")
        assert response.status_code == 422, (path, query, response.get_json())
        error = assert_error(response, 422, "validation_error")
        assert field in error["fields"], (path, query, error)
    assert factory.counts() == before


def test_defaults_and_the_maximum_with_more_than_a_hundred_items(app, api):
    make(app, "/operators", 105)
    first = as_json(api.get("/operators"))
    assert len(assert_page(first, 1, 50, 105)) == 50
    third = as_json(api.get("/operators?page=3"))
    assert len(assert_page(third, 3, 50, 105)) == 5
    fourth = as_json(api.get("/operators?page=4"))
    assert assert_page(fourth, 4, 50, 105) == []

    biggest = as_json(api.get("/operators?per_page=100"))
    assert len(assert_page(biggest, 1, 100, 105)) == 100
    rest = as_json(api.get("/operators?per_page=100&page=2"))
    assert len(assert_page(rest, 2, 100, 105)) == 5
    ids = [item["id"] for item in biggest["items"] + rest["items"]]
    assert len(set(ids)) == 105
    assert walk(api, "/operators", 50, 105) == ids
    assert_error(api.get("/operators?per_page=101"), 422)


def test_list_filters_and_pagination_combine(app, api, factory):
    make(app, "/contacts", 7)
    body = as_json(api.get("/contacts?status=unassigned&per_page=3&page=3"))
    assert len(assert_page(body, 3, 3, 7)) == 1
    assert as_json(api.get("/contacts?status=closed&per_page=3"))["total"] == 0
    body = as_json(api.get("/leads?external_id=e3&per_page=1"))
    assert len(assert_page(body, 1, 1, 1)) == 1
    # Invalid paging and an invalid filter are reported together.
    error = assert_error(api.get("/contacts?status=bogus&per_page=0"), 422)
    assert {"status", "per_page"} <= set(error["fields"])


def test_operator_role_gets_the_same_pages(app, client, factory):
    make(app, "/sources", 3)
    anna = factory.operator("Anna")
    user = Api(client, factory.staff("operator", operator_id=anna.id))
    body = as_json(user.get("/sources?per_page=2&page=2"))
    assert len(assert_page(body, 2, 2, 3)) == 1
    assert as_json(user.get("/operators?per_page=1"))["total"] == 1
