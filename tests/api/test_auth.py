"""Bearer-token authentication of /api/v1 and generic API behaviour (415, 400, 404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from crm_web.core.extensions import db
from crm_web.models import User
from tests.helpers import assert_error

from .helpers import API, UNKNOWN_TOKEN, as_json, bearer, intake, new_token, revoke


@pytest.fixture
def world(api, factory):
    """One of everything, so that every endpoint has an existing object to act on."""
    anna = factory.operator("Anna", max_load=5)
    source = factory.source("Site", key="site", weights={anna: 1})
    body = intake(api, source.id, phone="+79991234567")
    return {
        "operator": anna.id,
        "source": source.id,
        "contact": body["contact"]["id"],
        "lead": body["lead"]["id"],
    }


def endpoints(w: dict) -> list[tuple[str, str, dict | None]]:
    """Every endpoint of the contract with a valid body."""
    op, src, contact, lead = w["operator"], w["source"], w["contact"], w["lead"]
    return [
        ("GET", "/operators", None),
        ("POST", "/operators", {"name": "Boris", "max_load": 3}),
        ("GET", f"/operators/{op}", None),
        ("PATCH", f"/operators/{op}", {"max_load": 7}),
        ("DELETE", f"/operators/{op}", None),
        ("GET", "/sources", None),
        ("POST", "/sources", {"name": "Call centre"}),
        ("GET", f"/sources/{src}", None),
        ("PATCH", f"/sources/{src}", {"name": "Site form"}),
        ("POST", f"/sources/{src}/token", None),
        ("GET", f"/sources/{src}/distribution", None),
        ("PUT", f"/sources/{src}/distribution", {"rules": [{"operator_id": op, "weight": "2"}]}),
        ("POST", "/contacts", {"source_id": src, "email": "x@example.com"}),
        ("GET", "/contacts", None),
        ("GET", f"/contacts/{contact}", None),
        ("POST", f"/contacts/{contact}/assign", {"operator_id": op}),
        ("POST", f"/contacts/{contact}/close", None),
        ("GET", "/leads", None),
        ("GET", f"/leads/{lead}", None),
    ]


def call(client, method: str, path: str, body: dict | None, headers: dict | None = None):
    return client.open(API + path, method=method, json=body, headers=headers or {})


def _bad_headers(kind: str, app, sup) -> dict:
    if kind == "missing":
        return {}
    if kind == "empty":
        return {"Authorization": ""}
    if kind == "basic_scheme":
        return {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}
    if kind == "token_scheme_with_valid_token":
        return {"Authorization": f"Token {sup.token}"}
    if kind == "valid_token_without_scheme":
        return {"Authorization": sup.token}
    if kind == "bearer_without_token":
        return {"Authorization": "Bearer "}
    if kind == "unknown_token":
        return bearer(UNKNOWN_TOKEN)
    if kind == "revoked_token":
        token = new_token(app, sup.user_id)
        revoke(app, sup.user_id, token)
        return bearer(token)
    if kind == "expired_token":
        past = datetime.now(UTC) - timedelta(minutes=1)
        return bearer(new_token(app, sup.user_id, expires_at=past))
    raise AssertionError(kind)


BAD_AUTH = [
    "missing",
    "empty",
    "basic_scheme",
    "token_scheme_with_valid_token",
    "valid_token_without_scheme",
    "bearer_without_token",
    "unknown_token",
    "revoked_token",
    "expired_token",
]


@pytest.mark.parametrize("kind", BAD_AUTH)
def test_every_endpoint_answers_401_without_a_valid_token(app, client, factory, sup, world, kind):
    headers = _bad_headers(kind, app, sup)
    before = factory.counts()
    for method, path, body in endpoints(world):
        response = call(client, method, path, body, headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), (method, path)
    assert factory.counts() == before
    # The objects are untouched: the operator still exists, the contact is still assigned.
    assert as_json(client.get(f"{API}/operators/{world['operator']}", headers=sup.headers))["max_load"] == 5
    contact = as_json(client.get(f"{API}/contacts/{world['contact']}", headers=sup.headers))
    assert contact["status"] == "assigned"


def test_401_comes_before_404_and_422(client):
    assert_error(client.get(f"{API}/operators/999999"), 401)
    assert_error(client.post(f"{API}/operators", json={"name": ""}), 401)
    assert_error(client.post(f"{API}/operators", data="{not json", content_type="application/json"), 401)


def test_a_valid_token_is_accepted_and_the_scheme_is_case_insensitive(client, sup):
    assert client.get(f"{API}/operators", headers=sup.headers).status_code == 200
    headers = {"Authorization": f"bearer {sup.token}"}
    assert client.get(f"{API}/operators", headers=headers).status_code == 200


def test_revoking_one_token_keeps_the_others_valid(app, client, sup):
    second = new_token(app, sup.user_id)
    assert client.get(f"{API}/sources", headers=bearer(second)).status_code == 200
    revoke(app, sup.user_id, second)
    assert_error(client.get(f"{API}/sources", headers=bearer(second)), 401)
    assert client.get(f"{API}/sources", headers=sup.headers).status_code == 200


def test_a_token_with_a_future_expiry_works_until_then(app, client, sup):
    future = datetime.now(UTC) + timedelta(hours=1)
    token = new_token(app, sup.user_id, expires_at=future)
    assert client.get(f"{API}/leads", headers=bearer(token)).status_code == 200


def test_a_disabled_user_is_refused(app, client, sup):
    with app.app_context():
        db.session.execute(update(User).where(User.id == sup.user_id).values(is_enabled=False))
        db.session.commit()
        db.session.remove()
    assert_error(client.get(f"{API}/operators", headers=sup.headers), 401)


# --- body format: 415 and 400 on every endpoint that reads a body ----------------------------

def body_endpoints(w: dict) -> list[tuple[str, str]]:
    return [
        ("POST", "/operators"),
        ("PATCH", f"/operators/{w['operator']}"),
        ("POST", "/sources"),
        ("PATCH", f"/sources/{w['source']}"),
        ("PUT", f"/sources/{w['source']}/distribution"),
        ("POST", "/contacts"),
        ("POST", f"/contacts/{w['contact']}/assign"),
    ]


@pytest.mark.parametrize(
    "content_type, data",
    [
        (None, None),
        ("text/plain", '{"name": "X", "max_load": 1}'),
        ("application/x-www-form-urlencoded", "name=X&max_load=1"),
        ("multipart/form-data", None),
        ("application/xml", "<operator/>"),
    ],
    ids=["no-body", "text-plain", "form", "multipart", "xml"],
)
def test_a_body_that_is_not_json_is_415(app, client, factory, sup, world, content_type, data):
    before = factory.counts()
    for method, path in body_endpoints(world):
        kwargs: dict = {"headers": sup.headers}
        if content_type == "multipart/form-data":
            kwargs["data"] = {"name": "X"}
        elif content_type is not None:
            kwargs["data"] = data
            kwargs["content_type"] = content_type
        response = client.open(API + path, method=method, **kwargs)
        assert_error(response, 415, "unsupported_media_type")
    assert factory.counts() == before


@pytest.mark.parametrize(
    "raw",
    ['{"name": "X", ', "not json at all", "{'name': 'X'}", "", b"\xff\xfe\x00{}", "[" * 100_000],
    ids=["truncated", "text", "single-quotes", "empty", "bad-utf8", "deeply-nested"],
)
def test_malformed_json_is_400(app, client, factory, sup, world, raw):
    before = factory.counts()
    for method, path in body_endpoints(world):
        response = client.open(
            API + path, method=method, data=raw, content_type="application/json", headers=sup.headers
        )
        assert_error(response, 400, "bad_request")
    assert factory.counts() == before


def test_json_with_a_charset_parameter_is_accepted(client, sup):
    response = client.post(
        f"{API}/operators",
        data='{"name": "Anna", "max_load": 2}',
        content_type="application/json; charset=utf-8",
        headers=sup.headers,
    )
    assert as_json(response, 201)["name"] == "Anna"


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null", "true"])
def test_a_json_body_that_is_not_an_object_is_refused_on_post_and_patch(
    client, factory, sup, world, body
):
    before = factory.counts()
    for method, path in [
        ("POST", "/operators"),
        ("PATCH", f"/operators/{world['operator']}"),
        ("POST", "/sources"),
        ("PATCH", f"/sources/{world['source']}"),
        ("POST", "/contacts"),
        ("POST", f"/contacts/{world['contact']}/assign"),
    ]:
        response = client.open(
            API + path, method=method, data=body, content_type="application/json", headers=sup.headers
        )
        assert_error(response, 400)
    assert factory.counts() == before


def test_put_distribution_with_a_json_body_that_is_not_an_object_is_400_like_the_rest(
    app, client, sup, world
):
    response = client.put(
        f"{API}/sources/{world['source']}/distribution",
        data="[]",
        content_type="application/json",
        headers=sup.headers,
    )
    assert_error(response, 400)


# --- unknown paths are JSON 404, never HTML ----------------------------------------------------

@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/nope"),
        ("GET", "/"),
        ("GET", ""),
        ("POST", "/operators/1/unknown"),
        ("GET", "/operators/abc"),
        ("GET", "/contacts/1/history"),
        ("DELETE", "/leads/1/contacts"),
        ("GET", "/sources/-1"),
    ],
)
def test_unknown_paths_under_the_api_are_json_404(client, sup, method, path):
    for headers in ({}, sup.headers):
        response = client.open(API + path, method=method, headers=headers)
        assert_error(response, 404, "not_found")
        assert b"<html" not in response.get_data().lower()


def test_a_method_the_path_does_not_allow_is_json_405(client, sup, world):
    response = client.delete(f"{API}/sources/{world['source']}", headers=sup.headers)
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
