"""POST /webhooks/<source_key>: 201, 200 replays, 401, 404 and routing (contract section 2)."""

from __future__ import annotations

import hmac

import pytest

from crm_web.services.sources import update_source
from tests.helpers import assert_error

from .helpers import (
    PHONE,
    assert_created,
    assert_intake_body,
    auth,
    contact_row,
    lead_row,
    post_json,
    url,
)


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=10)


@pytest.fixture
def source(factory, anna):
    return factory.source("Site form", key="site", weights={anna: 1})


# --- 201 -------------------------------------------------------------------


def test_json_body_creates_contact_with_documented_body(app, client, factory, source, anna):
    before = factory.counts()
    response = post_json(
        client,
        source,
        {"external_id": " crm-1 ", "phone": "8 (999) 123-45-67", "email": " Ivan@Example.COM ",
         "name": "Ivan", "message": "Call me"},
    )
    body = assert_created(response)
    contact = body["contact"]
    assert contact["source_id"] == source.id
    assert contact["status"] == "assigned"
    assert contact["operator"] == {"id": anna.id, "name": "Anna"}
    assert body["lead"]["created"] is True
    assert body["operator_available"] is True

    after = factory.counts()
    assert after["contacts"] == before["contacts"] + 1
    assert after["leads"] == before["leads"] + 1
    stored = contact_row(app, contact["id"])
    assert stored["lead_id"] == contact["lead_id"] == body["lead"]["id"]
    assert stored["source_id"] == source.id
    assert stored["operator_id"] == anna.id
    assert bool(stored["is_active"]) is True
    assert (stored["name"], stored["message"]) == ("Ivan", "Call me")
    # The lead keeps the normalised identifiers.
    assert lead_row(app, contact["lead_id"]) == {
        "external_id": "crm-1", "phone": PHONE, "email": "ivan@example.com", "name": "Ivan",
    }


def test_json_with_charset_parameter_is_json(client, source):
    response = client.post(
        url(source), data='{"phone": "+79991234567"}',
        content_type="application/json; charset=utf-8", headers=auth(source),
    )
    assert_created(response)


def test_urlencoded_form_creates_contact(app, client, factory, source):
    before = factory.counts()
    response = client.post(
        url(source),
        data={"phone": "+7 999 123-45-67", "email": "form@example.com", "name": "Form user"},
        content_type="application/x-www-form-urlencoded",
        headers=auth(source),
    )
    body = assert_created(response)
    assert factory.counts()["contacts"] == before["contacts"] + 1
    assert lead_row(app, body["lead"]["id"]) == {
        "external_id": None, "phone": PHONE, "email": "form@example.com", "name": "Form user",
    }


def test_multipart_form_creates_contact(app, client, factory, source):
    before = factory.counts()
    response = client.post(
        url(source),
        data={"external_id": "mp-1", "message": "hello from multipart"},
        content_type="multipart/form-data",
        headers=auth(source),
    )
    assert response.request.mimetype == "multipart/form-data"
    body = assert_created(response)
    assert factory.counts()["contacts"] == before["contacts"] + 1
    assert lead_row(app, body["lead"]["id"])["external_id"] == "mp-1"
    assert contact_row(app, body["contact"]["id"])["message"] == "hello from multipart"


def test_token_in_query_parameter(client, factory, source):
    before = factory.counts()
    response = client.post(url(source, token=source.webhook_token), json={"phone": PHONE})
    assert_created(response)
    assert factory.counts()["contacts"] == before["contacts"] + 1


def test_token_in_query_parameter_with_form(client, source):
    response = client.post(
        url(source, token=source.webhook_token),
        data={"email": "q@example.com"},
        content_type="application/x-www-form-urlencoded",
    )
    assert_created(response)


def test_unknown_fields_are_ignored(app, client, factory, source):
    response = post_json(
        client, source,
        {"phone": PHONE, "utm_source": "google", "nested": {"a": [1, 2]}, "count": 3,
         "flag": True, "empty": None, "lead_id": 999, "operator_id": 999},
    )
    body = assert_created(response)
    assert body["contact"]["lead_id"] != 999
    form = client.post(
        url(source), data={"email": "x@example.com", "utm_campaign": "spring", "page": "/landing"},
        headers=auth(source),
    )
    assert_created(form)
    assert factory.counts()["contacts"] == 2


def test_no_operator_available_still_201_unassigned(app, client, factory):
    lonely = factory.source("No rules", key="no-rules")
    before = factory.counts()
    response = post_json(client, lonely, {"phone": PHONE})
    body = assert_created(response)
    assert body["contact"]["status"] == "unassigned"
    assert body["contact"]["operator"] is None
    assert body["operator_available"] is False
    assert factory.counts()["contacts"] == before["contacts"] + 1
    assert contact_row(app, body["contact"]["id"])["operator_id"] is None


def test_operator_at_capacity_gives_unassigned(client, factory):
    full = factory.operator("Full", max_load=0)
    src = factory.source(key="full", weights={full: 5})
    body = assert_created(post_json(client, src, {"email": "a@example.com"}))
    assert (body["contact"]["status"], body["contact"]["operator"], body["operator_available"]) == (
        "unassigned", None, False,
    )


def test_returning_lead_by_phone_in_another_format(client, factory, source):
    first = assert_created(post_json(client, source, {"phone": "+7 999 123-45-67"}))
    assert first["lead"]["created"] is True
    for other_format in ("8 (999) 123-45-67", "79991234567", "+79991234567"):
        again = assert_created(post_json(client, source, {"phone": other_format}))
        assert again["lead"] == {"id": first["lead"]["id"], "created": False}
        assert again["contact"]["id"] != first["contact"]["id"]
    counts = factory.counts()
    assert (counts["leads"], counts["contacts"]) == (1, 4)


# --- 200: Idempotency-Key replays ------------------------------------------


def test_replay_answers_200_with_the_first_body_and_writes_nothing(client, factory, source):
    first = post_json(client, source, {"phone": PHONE, "name": "Ivan"}, **{"Idempotency-Key": "order-1"})
    first_body = assert_created(first)
    before = factory.counts()
    # The same request again (a different body under the key: test_idempotency.py).
    for payload in ({"phone": PHONE, "name": "Ivan"}, {"name": " Ivan ", "phone": "8 999 123-45-67"}):
        replay = post_json(client, source, payload, **{"Idempotency-Key": "order-1"})
        assert replay.status_code == 200
        assert replay.mimetype == "application/json"
        assert replay.get_json() == first_body
        assert_intake_body(replay.get_json())
    assert factory.counts() == before


def test_replay_body_is_the_original_even_after_the_contact_changed(app, client, factory, source):
    first_body = assert_created(
        post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": "k-close"})
    )
    boss = factory.staff("supervisor")
    closed = client.post(f"/api/v1/contacts/{first_body['contact']['id']}/close", headers=boss.headers)
    assert closed.status_code == 200, closed.get_data(as_text=True)
    before = factory.counts()
    replay = post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": "k-close"})
    assert replay.status_code == 200
    assert replay.get_json() == first_body
    assert factory.counts() == before


def test_replay_with_form_body_and_query_token(client, factory, source):
    headers = {"Idempotency-Key": "form-key"}
    first = client.post(
        url(source, token=source.webhook_token), data={"email": "f@example.com"}, headers=headers
    )
    first_body = assert_created(first)
    before = factory.counts()
    replay = client.post(
        url(source, token=source.webhook_token), data={"email": "f@example.com"}, headers=headers
    )
    assert replay.status_code == 200
    assert replay.get_json() == first_body
    assert factory.counts() == before


def test_same_key_on_another_source_creates_a_new_contact(client, factory, source, anna):
    other = factory.source("Call centre", key="calls", weights={anna: 1})
    first = assert_created(post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": "shared"}))
    before = factory.counts()
    second = post_json(client, other, {"phone": PHONE}, **{"Idempotency-Key": "shared"})
    second_body = assert_created(second)
    assert second_body["contact"]["id"] != first["contact"]["id"]
    assert second_body["contact"]["source_id"] == other.id
    assert second_body["lead"] == {"id": first["lead"]["id"], "created": False}
    after = factory.counts()
    assert after["contacts"] == before["contacts"] + 1
    assert after["webhook_idempotency_keys"] == before["webhook_idempotency_keys"] + 1


def test_different_keys_create_different_contacts(client, factory, source):
    a = assert_created(post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": "a"}))
    b = assert_created(post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": "b"}))
    assert a["contact"]["id"] != b["contact"]["id"]
    assert factory.counts()["contacts"] == 2


def test_idempotency_key_of_255_chars_is_accepted_and_replayed(client, factory, source):
    key = "k" * 255
    first = assert_created(post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": key}))
    replay = post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": key})
    assert replay.status_code == 200
    assert replay.get_json() == first


@pytest.mark.parametrize("key", ["k" * 256, "x" * 1000, ""], ids=["256-chars", "1000-chars", "empty"])
def test_idempotency_key_out_of_range_is_422(client, factory, source, key):
    before = factory.counts()
    response = post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": key})
    assert_error(response, 422, fields={"Idempotency-Key"})
    assert factory.counts() == before


def test_failed_request_does_not_reserve_its_key(client, factory, source):
    bad = post_json(client, source, {"phone": "not a phone"}, **{"Idempotency-Key": "retry-me"})
    assert_error(bad, 422, fields={"phone"})
    good = post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": "retry-me"})
    assert_created(good)
    assert factory.counts()["contacts"] == 1


# --- 401 -------------------------------------------------------------------


def test_missing_token_is_401(client, factory, source):
    before = factory.counts()
    assert_error(client.post(url(source), json={"phone": PHONE}), 401)
    assert_error(client.post(url(source), json={"phone": PHONE}, headers={"X-Webhook-Token": ""}), 401)
    assert_error(client.post(url(source, token=""), json={"phone": PHONE}), 401)
    assert factory.counts() == before


def test_wrong_token_is_401(client, factory, source):
    before = factory.counts()
    wrong = source.webhook_token[:-1] + ("A" if source.webhook_token[-1] != "A" else "B")
    for token in (wrong, "x", source.webhook_token + "x", source.webhook_token.upper() + "!"):
        assert_error(client.post(url(source), json={"phone": PHONE}, headers={"X-Webhook-Token": token}), 401)
        assert_error(client.post(url(source, token=token), json={"phone": PHONE}), 401)
    assert factory.counts() == before


def test_token_of_another_source_is_401(client, factory, source):
    other = factory.source("Other", key="other")
    before = factory.counts()
    assert_error(client.post(url(source), json={"phone": PHONE}, headers=auth(other)), 401)
    assert_error(client.post(url(source, token=other.webhook_token), json={"phone": PHONE}), 401)
    assert_error(client.post(url(other), json={"phone": PHONE}, headers=auth(source)), 401)
    assert factory.counts() == before


def test_wrong_token_with_form_and_bad_body_is_still_401(client, factory, source):
    before = factory.counts()
    assert_error(client.post(url(source), data={"phone": PHONE}, headers={"X-Webhook-Token": "nope"}), 401)
    assert_error(
        client.post(url(source), data="{oops", content_type="application/json",
                    headers={"X-Webhook-Token": "nope"}),
        401,
    )
    assert factory.counts() == before


def test_old_token_stops_working_after_rotation(client, factory, source):
    boss = factory.staff("supervisor")
    old_token = source.webhook_token
    rotated = client.post(f"/api/v1/sources/{source.id}/token", headers=boss.headers)
    assert rotated.status_code == 200, rotated.get_data(as_text=True)
    new_token = rotated.get_json()["webhook_token"]
    assert new_token and new_token != old_token

    before = factory.counts()
    assert_error(client.post(url(source), json={"phone": PHONE}, headers={"X-Webhook-Token": old_token}), 401)
    assert_error(client.post(url(source, token=old_token), json={"phone": PHONE}), 401)
    assert factory.counts() == before

    assert_created(client.post(url(source), json={"phone": PHONE}, headers={"X-Webhook-Token": new_token}))
    assert_created(client.post(url(source, token=new_token), json={"phone": PHONE}))


def test_operator_user_may_not_rotate_the_token(client, factory, source, anna):
    clerk = factory.staff("operator", operator_id=anna.id)
    response = client.post(f"/api/v1/sources/{source.id}/token", headers=clerk.headers)
    assert_error(response, 403)
    assert_created(post_json(client, source, {"phone": PHONE}))


def test_webhook_token_is_compared_with_compare_digest(client, factory, monkeypatch):
    import crm_web.services.intake as intake

    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(intake.hmac, "compare_digest", spy)
    source = factory.source("Site", key="site")
    assert client.post("/webhooks/site", json={"phone": "+79991234567"},
                       headers={"X-Webhook-Token": "wrong"}).status_code == 401
    assert client.post("/webhooks/site", json={"phone": "+79991234567"},
                       headers={"X-Webhook-Token": source.webhook_token}).status_code == 201
    assert (b"wrong", source.webhook_token.encode()) in calls
    assert (source.webhook_token.encode(), source.webhook_token.encode()) in calls


# --- 404 -------------------------------------------------------------------


def test_unknown_source_key_is_404(client, factory, source):
    before = factory.counts()
    for key in ("nope", "SITE", "site-2", "x" * 300):
        response = client.post(f"/webhooks/{key}", json={"phone": PHONE}, headers=auth(source))
        assert_error(response, 404)
    assert_error(client.post("/webhooks/nope", json={"phone": PHONE}), 404)
    assert factory.counts() == before


def test_source_key_with_nul_character_is_404(client, factory, source):
    before = factory.counts()
    response = client.post("/webhooks/%00site", json={"phone": PHONE}, headers=auth(source))
    assert_error(response, 404)
    assert factory.counts() == before


def test_source_disabled_through_the_service_is_404(app, client, factory, source):
    factory._call(update_source, source.id, {"is_active": False})
    before = factory.counts()
    assert_error(post_json(client, source, {"phone": PHONE}), 404)
    assert_error(client.post(url(source, token=source.webhook_token), data={"phone": PHONE}), 404)
    assert factory.counts() == before
    # Enabled again, it takes requests again.
    factory._call(update_source, source.id, {"is_active": True})
    assert_created(post_json(client, source, {"phone": PHONE}))


def test_source_disabled_through_the_api_is_404(client, factory, source):
    boss = factory.staff("supervisor")
    patched = client.patch(f"/api/v1/sources/{source.id}", json={"is_active": False}, headers=boss.headers)
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert patched.get_json()["is_active"] is False
    before = factory.counts()
    assert_error(post_json(client, source, {"phone": PHONE}), 404)
    assert_error(post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": "k"}), 404)
    assert factory.counts() == before


def test_replay_on_a_disabled_source_is_404(client, factory, source):
    assert_created(post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": "k1"}))
    factory._call(update_source, source.id, {"is_active": False})
    before = factory.counts()
    assert_error(post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": "k1"}), 404)
    assert factory.counts() == before


# --- never an HTML page under /webhooks/ ----------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods_on_the_webhook_are_405_json(client, factory, source, method):
    before = factory.counts()
    response = client.open(url(source), method=method, json={"phone": PHONE}, headers=auth(source))
    assert_error(response, 405)
    assert "POST" in response.headers.get("Allow", "")
    assert factory.counts() == before


@pytest.mark.parametrize("path", ["/webhooks/", "/webhooks/site/extra", "/webhooks/a/b/c"])
def test_unknown_paths_under_webhooks_are_404_json(client, factory, source, path):
    before = factory.counts()
    for method in ("GET", "POST"):
        response = client.open(path, method=method, json={"phone": PHONE}, headers=auth(source))
        assert_error(response, 404)
    assert factory.counts() == before
