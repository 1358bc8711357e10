"""CORS on the webhook: preflight and answers for a source's allowed origins, nothing by default.

Also the allowed origins through the API (validation, nothing written on
an error) and the cost: no extra statement without an Origin header.
"""

from __future__ import annotations

import pytest

from crm_web.core.extensions import db
from crm_web.services.sources import update_source
from tests.conftest import Factory, make_app, wipe
from tests.helpers import assert_error, recorded_statements

from .helpers import PHONE, assert_created, auth, url

SITE = "https://shop.example"
OTHER = "https://evil.example"
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
)


@pytest.fixture
def source(factory):
    anna = factory.operator("Anna", max_load=100)
    source = factory.source("Shop", key="shop", weights={anna: 1})
    factory._call(update_source, source.id, {"allowed_origins": [SITE, "http://localhost:8080"]})
    return source


def preflight(client, source, origin: str | None, method: str = "POST"):
    headers = {
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type,x-webhook-token",
    }
    if origin is not None:
        headers["Origin"] = origin
    return client.options(url(source), headers=headers)


def no_cors(response) -> None:
    present = [h for h in CORS_HEADERS if h in response.headers]
    assert not present, f"unexpected CORS headers {present}"


# --- preflight -----------------------------------------------------------------


def test_preflight_from_an_allowed_origin_allows_post_and_the_webhook_headers(client, source):
    response = preflight(client, source, SITE)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"content-type", "x-webhook-token", "idempotency-key"}
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.get_data() == b""


def test_preflight_answers_the_origin_asked_about_only(client, source):
    response = preflight(client, source, "http://localhost:8080")
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"


@pytest.mark.parametrize(
    "origin",
    [
        OTHER,
        "https://shop.example.evil.example",
        "http://shop.example",  # another scheme is another origin
        "https://shop.example:8443",
        "null",
        "*",
        "",
    ],
)
def test_preflight_from_another_origin_gets_no_cors_headers(client, source, origin):
    response = preflight(client, source, origin)
    assert response.status_code == 204
    no_cors(response)


def test_preflight_without_origin_gets_no_cors_headers(client, source):
    response = preflight(client, source, None)
    assert response.status_code == 204
    no_cors(response)


def test_nothing_is_allowed_by_default(client, factory):
    fresh = factory.source("Fresh", key="fresh")
    no_cors(preflight(client, fresh, SITE))
    response = client.post(url(fresh), json={"phone": PHONE}, headers=auth(fresh, Origin=SITE))
    assert_created(response)
    no_cors(response)


def test_preflight_of_an_unknown_source_gets_no_cors_headers(client, source):
    response = client.options("/webhooks/no-such-source", headers={"Origin": SITE})
    assert response.status_code == 204
    no_cors(response)


def test_origins_of_one_source_do_not_open_another(client, factory, source):
    other = factory.source("Other", key="other")
    no_cors(preflight(client, other, SITE))


# --- the POST itself -------------------------------------------------------------


def test_post_from_an_allowed_origin_carries_the_origin(client, source):
    response = client.post(url(source), json={"phone": PHONE}, headers=auth(source, Origin=SITE))
    body = assert_created(response)
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in response.headers["Vary"]
    # The actual answer carries only the origin; methods and headers are the preflight's.
    assert "Access-Control-Allow-Methods" not in response.headers
    assert body["contact"]["source_id"] == source.id


def test_post_from_another_origin_gets_no_cors_header_and_the_same_json(client, factory, source):
    response = client.post(url(source), json={"phone": PHONE}, headers=auth(source, Origin=OTHER))
    # The server still answers (CORS is the browser's check); the browser hides the answer.
    assert_created(response)
    no_cors(response)


def test_post_without_origin_is_unchanged(client, source):
    response = client.post(url(source), json={"phone": PHONE}, headers=auth(source))
    assert_created(response)
    no_cors(response)


@pytest.mark.parametrize(
    "case, status",
    [("wrong_token", 401), ("invalid", 422), ("bad_json", 400), ("content_type", 415), ("unknown", 404)],
)
def test_errors_carry_the_origin_too_so_the_script_can_read_them(client, factory, source, case, status):
    before = factory.counts()
    headers = {"X-Webhook-Token": source.webhook_token, "Origin": SITE}
    target = url(source)
    if case == "wrong_token":
        response = client.post(target, json={"phone": PHONE}, headers={**headers, "X-Webhook-Token": "x"})
    elif case == "invalid":
        response = client.post(target, json={"phone": "not a phone"}, headers=headers)
    elif case == "bad_json":
        response = client.post(target, data=b"{", content_type="application/json", headers=headers)
    elif case == "content_type":
        response = client.post(target, data=b"phone=1", content_type="text/plain", headers=headers)
    else:
        response = client.post("/webhooks/unknown", json={"phone": PHONE}, headers=headers)
    assert_error(response, status)
    if case == "unknown":
        no_cors(response)  # no source, no origins
    else:
        assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert factory.counts() == before


def test_a_disabled_source_still_lets_its_sites_read_the_404(client, factory, source):
    factory._call(update_source, source.id, {"is_active": False})
    response = client.post(url(source), json={"phone": PHONE}, headers=auth(source, Origin=SITE))
    assert_error(response, 404)
    assert response.headers["Access-Control-Allow-Origin"] == SITE


def test_the_rate_limit_answer_carries_the_origin(database_url):
    limited = make_app(database_url, CRM_WEBHOOK_RATE_LIMIT="2/minute")
    wipe(limited)
    try:
        factory = Factory(limited)
        source = factory.source("Shop", key="shop")
        factory._call(update_source, source.id, {"allowed_origins": [SITE]})
        client = limited.test_client()
        for _ in range(2):
            assert_created(client.post(url(source), json={"phone": PHONE}, headers=auth(source, Origin=SITE)))
        response = client.post(url(source), json={"phone": PHONE}, headers=auth(source, Origin=SITE))
        assert_error(response, 429)
        assert response.headers["Access-Control-Allow-Origin"] == SITE
    finally:
        wipe(limited)


# --- cost ------------------------------------------------------------------------


def statements(app, client, source, status=(200, 201), **headers) -> int:
    with recorded_statements(app) as log:
        response = client.post(url(source), json={"phone": PHONE}, headers=auth(source, **headers))
    assert response.status_code in status
    return len(log)


def test_origins_come_with_the_source_the_intake_reads(app, client, source):
    key = {"Idempotency-Key": "same"}  # replays: the same statements every time
    statements(app, client, source, **key)  # warm-up, stores the key
    plain = statements(app, client, source, **key)
    with_origin = statements(app, client, source, Origin=SITE, **key)
    assert with_origin == plain


def test_a_request_refused_before_its_source_is_read_costs_one_read_for_its_origins(app, client, source):
    wrong = {"X-Webhook-Token": "wrong-token"}
    plain = statements(app, client, source, status=(401,), **wrong)
    with_origin = statements(app, client, source, status=(401,), Origin=SITE, **wrong)
    # SQLite's read transaction adds its BEGIN to the one SELECT.
    extra = 2 if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else 1
    assert with_origin == plain + extra


# --- setting origins through the API ----------------------------------------------


def api_patch(client, staff, source_id: int, body: dict):
    return client.patch(f"/api/v1/sources/{source_id}", json=body, headers=staff.headers)


def test_api_sets_normalised_origins_and_shows_them_to_supervisors(client, factory, source):
    sup = factory.staff("supervisor")
    response = api_patch(client, sup, source.id, {"allowed_origins": [
        "https://WWW.Example.com/", "https://www.example.com:443", "http://localhost:8080",
        "https://пример.рф",
    ]})
    assert response.status_code == 200, response.get_json()
    expected = ["https://www.example.com", "http://localhost:8080", "https://xn--e1afmkfd.xn--p1ai"]
    assert response.get_json()["allowed_origins"] == expected
    read = client.get(f"/api/v1/sources/{source.id}", headers=sup.headers).get_json()
    assert read["allowed_origins"] == expected
    # Stored one per line.
    with factory.app.app_context():
        from crm_web.models import Source

        assert db.session.get(Source, source.id).allowed_origins == "\n".join(expected)
        db.session.remove()
    # The new list replaces the old: the shop is no longer allowed.
    no_cors(preflight(client, source, SITE))
    assert preflight(client, source, "http://localhost:8080").headers["Access-Control-Allow-Origin"]


def test_api_hides_origins_from_operator_users(client, factory, source):
    operator_user = factory.staff("operator", operator_id=factory.operator("Op").id)
    body = client.get(f"/api/v1/sources/{source.id}", headers=operator_user.headers).get_json()
    assert "allowed_origins" not in body and "thank_you_url" not in body


def test_api_clears_origins_with_an_empty_list_or_null(client, factory, source):
    sup = factory.staff("supervisor")
    assert api_patch(client, sup, source.id, {"allowed_origins": []}).get_json()["allowed_origins"] == []
    factory._call(update_source, source.id, {"allowed_origins": [SITE]})
    assert api_patch(client, sup, source.id, {"allowed_origins": None}).get_json()["allowed_origins"] == []
    no_cors(preflight(client, source, SITE))


def test_api_create_takes_origins(client, factory):
    sup = factory.staff("supervisor")
    body = {"name": "New", "allowed_origins": [SITE]}
    response = client.post("/api/v1/sources", json=body, headers=sup.headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["allowed_origins"] == [SITE]
    assert response.get_json()["thank_you_url"] is None


@pytest.mark.parametrize(
    "origins, fragment",
    [
        (["*"], "open relay"),
        ([SITE, "*"], "open relay"),
        (["https://shop.example/contact"], "not an origin"),
        (["shop.example"], "not an origin"),
        (["ftp://shop.example"], "not an origin"),
        (["https://shop.example?x=1"], "not an origin"),
        (["https://user@shop.example"], "not an origin"),
        (["https://shop.example:99999"], "not an origin"),
        (["https://-bad-.example"], "not an origin"),
        (["null"], "not an origin"),
        ([f"https://site{i}.example" for i in range(21)], "At most 20"),
        ("https://shop.example", "list"),
        ([1], "list"),
        ({"origin": SITE}, "list"),
    ],
)
def test_api_refuses_bad_origins_with_422_and_changes_nothing(client, factory, source, origins, fragment):
    sup = factory.staff("supervisor")
    response = api_patch(client, sup, source.id, {"name": "Renamed", "allowed_origins": origins})
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert set(error["fields"]) == {"allowed_origins"}
    assert any(fragment in message for message in error["fields"]["allowed_origins"]), error
    body = client.get(f"/api/v1/sources/{source.id}", headers=sup.headers).get_json()
    assert body["name"] == "Shop"
    assert body["allowed_origins"] == [SITE, "http://localhost:8080"]


def test_twenty_origins_are_accepted_and_duplicates_do_not_count(client, factory, source):
    sup = factory.staff("supervisor")
    origins = [f"https://site{i}.example" for i in range(20)] + ["https://SITE0.example/"]
    response = api_patch(client, sup, source.id, {"allowed_origins": origins})
    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["allowed_origins"]) == 20
