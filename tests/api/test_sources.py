"""/api/v1/sources: list, create, read, change, rotate the webhook token."""

from __future__ import annotations

import pytest

from crm_web.models import Source
from tests.helpers import assert_error

from .helpers import OUT_OF_RANGE_IDS, Api, as_json, assert_page, db_state

SOURCE_FIELDS = {"id", "name", "key", "is_active"}


def documented(source: dict) -> dict:
    return {k: source[k] for k in SOURCE_FIELDS}


def expected(source_id: int, name: str, key: str, is_active: bool = True) -> dict:
    return {"id": source_id, "name": name, "key": key, "is_active": is_active}


def webhook(client, key: str, token: str, **fields):
    return client.post(f"/webhooks/{key}", json=fields or {"phone": "+79991234567"},
                       headers={"X-Webhook-Token": token})


@pytest.fixture
def operator_api(client, factory):
    """An operator-role user's API client."""
    anna = factory.operator("Anna")
    return Api(client, factory.staff("operator", operator_id=anna.id))


def test_list_is_paginated_with_the_documented_fields(api, factory):
    assert assert_page(as_json(api.get("/sources")), 1, 50, 0) == []
    calls = factory.source("Calls", key="calls")
    site = factory.source("Site", key="site")
    items = assert_page(as_json(api.get("/sources")), 1, 50, 2)
    assert [documented(i) for i in items] == [
        expected(calls.id, "Calls", "calls"),
        expected(site.id, "Site", "site"),
    ]


def test_operator_role_reads_sources_without_webhook_tokens(operator_api, factory):
    site = factory.source("Site", key="site")
    items = as_json(operator_api.get("/sources"))["items"]
    assert [i["id"] for i in items] == [site.id]
    assert "webhook_token" not in items[0]
    one = as_json(operator_api.get(f"/sources/{site.id}"))
    assert documented(one) == expected(site.id, "Site", "site")
    assert "webhook_token" not in one
    assert site.webhook_token not in operator_api.get(f"/sources/{site.id}").get_data(as_text=True)


# --- create ------------------------------------------------------------------------------------

def test_create_returns_201_with_the_webhook_token_that_works(api, client, factory):
    created = as_json(api.post("/sources", {"name": "  Site form ", "key": "site-form"}), 201)
    assert {k: created[k] for k in SOURCE_FIELDS - {"id"}} == {
        "name": "Site form", "key": "site-form", "is_active": True,
    }
    token = created["webhook_token"]
    assert isinstance(token, str) and len(token) >= 20
    one = as_json(api.get(f"/sources/{created['id']}"))
    assert one["webhook_token"] == token
    assert documented(one) == documented(created)
    assert webhook(client, "site-form", token).status_code == 201
    assert factory.count("sources") == 1


def test_create_without_key_derives_a_url_safe_unique_key(api, client):
    first = as_json(api.post("/sources", {"name": "Call Centre #1"}), 201)
    assert first["key"] == "call-centre-1"
    # Another name with the same slug gets another key.
    second = as_json(api.post("/sources", {"name": "call centre 1"}), 201)
    assert second["key"] != first["key"]
    for created in (first, second):
        assert all(ch.isalnum() or ch in "-_" for ch in created["key"])
        assert webhook(client, created["key"], created["webhook_token"]).status_code == 201
    assert first["webhook_token"] != second["webhook_token"]
    # Names without Latin letters still get distinct URL-safe keys.
    keys = {as_json(api.post("/sources", {"name": name}), 201)["key"] for name in ("Сайт", "Форма", "!!!")}
    assert len(keys) == 3
    assert all(key and key.isascii() and all(ch.isalnum() or ch in "-_" for ch in key) for key in keys)


def test_create_without_key_transliterates_a_cyrillic_name(api, client):
    first = as_json(api.post("/sources", {"name": "Сайт салона"}), 201)
    assert first["key"] == "sait-salona"
    assert as_json(api.post("/sources", {"name": "Сайт салона e982"}), 201)["key"] == "sait-salona-e982"
    assert as_json(api.post("/sources", {"name": "Сайт-салона"}), 201)["key"] == "sait-salona-2"
    assert webhook(client, "sait-salona", first["webhook_token"]).status_code == 201


def test_create_inactive_source(api, client):
    created = as_json(api.post("/sources", {"name": "Old", "is_active": False}), 201)
    assert created["is_active"] is False
    assert_error(webhook(client, created["key"], created["webhook_token"]), 404)


INVALID_CREATE = [
    ({}, "name"),
    ({"key": "site"}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": None}, "name"),
    ({"name": 5}, "name"),
    ({"name": {"x": 1}}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"name": "Site", "key": ""}, "key"),
    ({"name": "Site", "key": "Bad Key"}, "key"),
    ({"name": "Site", "key": "UPPER"}, "key"),
    ({"name": "Site", "key": "-site"}, "key"),
    ({"name": "Site", "key": "site-"}, "key"),
    ({"name": "Site", "key": "si/te"}, "key"),
    ({"name": "Site", "key": "сайт"}, "key"),
    ({"name": "Site", "key": "s" * 65}, "key"),
    ({"name": "Site", "key": 12}, "key"),
    ({"name": "Site", "is_active": "true"}, "is_active"),
    ({"name": "Site", "is_active": 1}, "is_active"),
]


def test_create_with_invalid_fields_is_422_and_writes_nothing(api, factory):
    factory.source("Existing", key="existing")
    before = factory.counts()
    for body, field in INVALID_CREATE:
        response = api.post("/sources", body)
        assert response.status_code == 422, (body, response.get_json())
        error = assert_error(response, 422, "validation_error")
        assert field in error["fields"], (body, error)
    assert factory.counts() == before


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Site"},
        {"name": " Site "},
        {"name": "Other", "key": "site"},
        {"name": "Site", "key": "other"},
    ],
)
def test_create_with_a_duplicate_name_or_key_is_409_and_writes_nothing(api, factory, body):
    factory.source("Site", key="site")
    before = factory.counts()
    assert_error(api.post("/sources", body), 409)
    assert factory.counts() == before


# --- read --------------------------------------------------------------------------------------

def test_read_one_and_404_for_missing(api, factory):
    site = factory.source("Site", key="site")
    one = as_json(api.get(f"/sources/{site.id}"))
    assert documented(one) == expected(site.id, "Site", "site")
    assert one["webhook_token"] == site.webhook_token
    assert_error(api.get(f"/sources/{site.id + 1}"), 404, "not_found")
    assert_error(api.get("/sources/0"), 404)


def test_a_source_id_out_of_range_is_404(api, factory):
    factory.source("Site")
    before = factory.counts()
    for bad in OUT_OF_RANGE_IDS:
        assert_error(api.get(f"/sources/{bad}"), 404)
        assert_error(api.post(f"/sources/{bad}/token"), 404)
        assert_error(api.get(f"/sources/{bad}/distribution"), 404)
    assert factory.counts() == before


def test_a_source_id_out_of_range_is_404_on_patch_and_put(api, factory):
    factory.source("Site")
    before = factory.counts()
    for bad in OUT_OF_RANGE_IDS:
        for method, path, body in (
            ("PATCH", f"/sources/{bad}", {"name": "X"}),
            ("PUT", f"/sources/{bad}/distribution", {"rules": []}),
        ):
            response = api.open(method, path, body)
            allow = response.headers.get("Allow")
            assert response.status_code == 404, (method, bad, response.status_code, allow)
            assert_error(response, 404)
    assert factory.counts() == before


# --- change ------------------------------------------------------------------------------------

def test_patch_changes_name_key_and_active(app, api, client, factory):
    site = factory.source("Site", key="site")
    body = as_json(api.patch(f"/sources/{site.id}", {"name": "Site form"}))
    assert (body["name"], body["key"], body["is_active"]) == ("Site form", "site", True)
    body = as_json(api.patch(f"/sources/{site.id}", {"key": "form"}))
    assert (body["name"], body["key"]) == ("Site form", "form")
    # The webhook now answers at the new key only; the token is unchanged.
    assert body["webhook_token"] == site.webhook_token
    assert_error(webhook(client, "site", site.webhook_token), 404)
    assert webhook(client, "form", site.webhook_token).status_code == 201
    body = as_json(api.patch(f"/sources/{site.id}", {"is_active": False}))
    assert body["is_active"] is False
    assert_error(webhook(client, "form", site.webhook_token, phone="+79990000000"), 404)
    assert db_state(app, Source, site.id)["name"] == "Site form"
    # Its own name and key again are no conflict.
    assert api.patch(f"/sources/{site.id}", {"name": "Site form", "key": "form"}).status_code == 200


INVALID_PATCH = [
    ({"name": ""}, "name"),
    ({"name": 1}, "name"),
    ({"name": "n" * 121}, "name"),
    ({"key": "Bad key"}, "key"),
    ({"key": ""}, "key"),
    ({"key": ["site"]}, "key"),
    ({"is_active": "no"}, "is_active"),
    ({"name": "Fine", "key": "not ok"}, "key"),
]


def test_patch_with_invalid_fields_is_422_and_changes_nothing(app, api, factory):
    site = factory.source("Site", key="site")
    before = db_state(app, Source, site.id)
    for body, field in INVALID_PATCH:
        response = api.patch(f"/sources/{site.id}", body)
        assert response.status_code == 422, (body, response.get_json())
        error = assert_error(response, 422)
        assert field in error["fields"], (body, error)
        assert db_state(app, Source, site.id) == before, body


@pytest.mark.parametrize("body", [{"name": "Calls"}, {"key": "calls"}, {"name": "New", "key": "calls"}])
def test_patch_to_a_duplicate_name_or_key_is_409_and_changes_nothing(app, api, factory, body):
    factory.source("Calls", key="calls")
    site = factory.source("Site", key="site")
    before = db_state(app, Source, site.id)
    assert_error(api.patch(f"/sources/{site.id}", body), 409)
    assert db_state(app, Source, site.id) == before


def test_patch_missing_source_is_404(api, factory):
    site = factory.source("Site")
    assert_error(api.patch(f"/sources/{site.id + 1}", {"name": "X"}), 404)


# --- webhook token -----------------------------------------------------------------------------

def test_rotating_the_token_changes_it_and_the_old_one_stops_working(app, api, client, factory):
    site = factory.source("Site", key="site")
    old = site.webhook_token
    assert webhook(client, "site", old, phone="+79991110001").status_code == 201

    rotated = as_json(api.post(f"/sources/{site.id}/token"))
    new = rotated["webhook_token"]
    assert isinstance(new, str) and new and new != old
    assert documented(rotated) == expected(site.id, "Site", "site")
    assert as_json(api.get(f"/sources/{site.id}"))["webhook_token"] == new

    before = factory.counts()
    assert_error(webhook(client, "site", old, phone="+79991110002"), 401)
    assert_error(client.post(f"/webhooks/site?token={old}", json={"phone": "+79991110002"}), 401)
    assert factory.counts() == before
    assert webhook(client, "site", new, phone="+79991110002").status_code == 201
    assert client.post(f"/webhooks/site?token={new}", json={"phone": "+79991110003"}).status_code == 201

    again = as_json(api.post(f"/sources/{site.id}/token"))["webhook_token"]
    assert again not in (old, new)
    assert_error(webhook(client, "site", new, phone="+79991110004"), 401)


def test_rotating_the_token_of_a_missing_source_is_404(api, factory):
    site = factory.source("Site")
    assert_error(api.post(f"/sources/{site.id + 1}/token"), 404)


# --- role --------------------------------------------------------------------------------------

def test_operator_role_may_not_create_change_or_rotate(app, operator_api, client, factory):
    site = factory.source("Site", key="site")
    before_counts = factory.counts()
    before = db_state(app, Source, site.id)

    assert_error(operator_api.post("/sources", {"name": "Mine"}), 403, "forbidden")
    for body in ({"name": "Mine"}, {"key": "mine"}, {"is_active": False}):
        assert_error(operator_api.patch(f"/sources/{site.id}", body), 403, "forbidden")
    response = operator_api.post(f"/sources/{site.id}/token")
    error = assert_error(response, 403, "forbidden")
    assert "webhook_token" not in response.get_json()
    assert site.webhook_token not in error["message"]

    assert factory.counts() == before_counts
    assert db_state(app, Source, site.id) == before
    assert webhook(client, "site", site.webhook_token).status_code == 201
