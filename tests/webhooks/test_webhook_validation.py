"""Webhook bodies that are refused: 400, 415 and 422, with nothing written."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error

from .helpers import IDENTIFIER_FIELDS, PHONE, assert_created, auth, post_json, url


@pytest.fixture
def source(factory):
    anna = factory.operator("Anna", max_load=10)
    return factory.source("Site form", key="site", weights={anna: 1})


def post_raw(client, source, data, content_type=None, **headers):
    return client.post(url(source), data=data, content_type=content_type, headers=auth(source, **headers))


# --- 400 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"phone": "+79991234567"',
        b"{'phone': '+79991234567'}",
        b'{"phone": +79991234567}',
        b"phone=+79991234567",
        b"",
        b"   ",
        b'{"phone": "\xff\xfe"}',
        b"[" * 100_00,
    ],
    ids=["unclosed", "single-quotes", "bare-plus", "form-as-json", "empty", "blank", "bad-utf8", "deep"],
)
def test_malformed_json_is_400(client, factory, source, raw):
    before = factory.counts()
    assert_error(post_raw(client, source, raw, "application/json"), 400)
    assert factory.counts() == before


@pytest.mark.parametrize(
    "raw",
    [b'[{"phone": "+79991234567"}]', b"[]", b'"+79991234567"', b"79991234567", b"1.5", b"null", b"true"],
    ids=["list", "empty-list", "string", "number", "float", "null", "bool"],
)
def test_json_that_is_not_an_object_is_400(client, factory, source, raw):
    before = factory.counts()
    assert_error(post_raw(client, source, raw, "application/json"), 400)
    assert factory.counts() == before


def test_malformed_json_with_idempotency_key_reserves_nothing(client, factory, source):
    before = factory.counts()
    assert_error(post_raw(client, source, b"{", "application/json", **{"Idempotency-Key": "k"}), 400)
    assert factory.counts() == before
    assert_created(post_json(client, source, {"phone": PHONE}, **{"Idempotency-Key": "k"}))


# --- 415 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"phone": "+79991234567"}', "text/plain"),
        ("phone=+79991234567", "text/plain; charset=utf-8"),
        (b'{"phone": "+79991234567"}', None),
        ("<lead><phone>+79991234567</phone></lead>", "application/xml"),
        ("<lead><phone>+79991234567</phone></lead>", "text/xml"),
        ('{"phone": "+79991234567"}', "application/octet-stream"),
        ('{"phone": "+79991234567"}', "application/vnd.api+json"),
    ],
    ids=["text-plain", "text-plain-charset", "no-content-type", "application-xml", "text-xml",
         "octet-stream", "vnd-json"],
)
def test_other_content_types_are_415(client, factory, source, data, content_type):
    before = factory.counts()
    response = post_raw(client, source, data, content_type)
    if content_type is None:
        assert "Content-Type" not in response.request.headers
    assert_error(response, 415)
    assert factory.counts() == before


def test_no_body_and_no_content_type_is_415(client, factory, source):
    before = factory.counts()
    assert_error(client.post(url(source), headers=auth(source)), 415)
    assert factory.counts() == before


# --- 422 -------------------------------------------------------------------


@pytest.mark.parametrize("phone", ["not a phone", "123", "+7999", "8999123456789012345", "+7 (999) abc-45-67",
                                   "1" * 100])
def test_invalid_phone_is_422(client, factory, source, phone):
    before = factory.counts()
    assert_error(post_json(client, source, {"phone": phone}), 422, fields={"phone"})
    # Even next to a valid identifier, a bad one refuses the request.
    response = post_json(client, source, {"phone": phone, "email": "ok@example.com"})
    assert_error(response, 422, fields={"phone"})
    assert factory.counts() == before


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", "a@@example.com",
                                   "ivan@example..com"])
def test_invalid_email_is_422(client, factory, source, email):
    before = factory.counts()
    assert_error(post_json(client, source, {"email": email}), 422, fields={"email"})
    assert_error(post_json(client, source, {"email": email, "phone": PHONE}), 422, fields={"email"})
    assert factory.counts() == before


def test_invalid_fields_in_a_form_are_422(client, factory, source):
    before = factory.counts()
    response = client.post(url(source), data={"phone": "abc", "email": "nope"}, headers=auth(source))
    assert_error(response, 422, fields={"phone", "email"})
    response = client.post(
        url(source), data={"external_id": "e" * 256}, content_type="multipart/form-data", headers=auth(source)
    )
    assert_error(response, 422, fields={"external_id"})
    assert factory.counts() == before


@pytest.mark.parametrize(
    ("payload", "bad"),
    [
        ({"phone": 79991234567}, {"phone"}),
        ({"phone": PHONE, "email": ["a@example.com"]}, {"email"}),
        ({"external_id": 42}, {"external_id"}),
        ({"external_id": {"id": "x"}, "phone": PHONE}, {"external_id"}),
        ({"phone": PHONE, "name": True}, {"name"}),
        ({"phone": PHONE, "message": 12.5}, {"message"}),
        ({"phone": PHONE, "name": ["Ivan"], "message": {"text": "hi"}}, {"name", "message"}),
        ({"phone": True, "email": 1, "external_id": []}, {"phone", "email", "external_id"}),
    ],
    ids=["phone-int", "email-list", "external-int", "external-object", "name-bool", "message-float",
         "name-and-message", "all-identifiers"],
)
def test_non_string_field_values_are_422(client, factory, source, payload, bad):
    before = factory.counts()
    assert_error(post_json(client, source, payload), 422, fields=bad)
    assert factory.counts() == before


def test_external_id_longer_than_255_is_422(app, client, factory, source):
    before = factory.counts()
    assert_error(post_json(client, source, {"external_id": "e" * 256}), 422, fields={"external_id"})
    assert_error(post_json(client, source, {"external_id": "e" * 256, "phone": PHONE}), 422,
                 fields={"external_id"})
    assert factory.counts() == before
    # 255 characters (surrounding blanks are trimmed first) are fine.
    assert_created(post_json(client, source, {"external_id": "  " + "e" * 255 + "  "}))


def test_too_long_name_or_message_is_422(client, factory, source):
    before = factory.counts()
    assert_error(post_json(client, source, {"phone": PHONE, "name": "n" * 256}), 422, fields={"name"})
    response = post_json(client, source, {"phone": PHONE, "message": "m" * 10_001})
    assert_error(response, 422, fields={"message"})
    assert factory.counts() == before


def test_nul_characters_are_422(client, factory, source):
    before = factory.counts()
    assert_error(post_json(client, source, {"phone": PHONE, "name": "Iv\x00an"}), 422, fields={"name"})
    assert_error(post_json(client, source, {"external_id": "a\x00b"}), 422, fields={"external_id"})
    assert factory.counts() == before


@pytest.mark.parametrize(
    "payload",
    [{}, {"name": "Ivan", "message": "no identifier"}, {"utm_source": "x"}, {"phone": None, "email": None}],
    ids=["empty-object", "name-and-message", "unknown-only", "nulls"],
)
def test_no_identifier_at_all_is_422(client, factory, source, payload):
    before = factory.counts()
    error = assert_error(post_json(client, source, payload), 422)
    assert set(error["fields"]) <= IDENTIFIER_FIELDS
    assert factory.counts() == before


def test_only_blank_identifiers_is_422(client, factory, source):
    before = factory.counts()
    blank = {"external_id": "   ", "phone": "", "email": " \t\n", "name": "Ivan"}
    error = assert_error(post_json(client, source, blank), 422)
    assert set(error["fields"]) <= IDENTIFIER_FIELDS
    error = assert_error(client.post(url(source), data=blank, headers=auth(source)), 422)
    assert set(error["fields"]) <= IDENTIFIER_FIELDS
    error = assert_error(
        client.post(url(source), data={"name": "Only name"}, content_type="multipart/form-data",
                    headers=auth(source)),
        422,
    )
    assert set(error["fields"]) <= IDENTIFIER_FIELDS
    assert factory.counts() == before


def test_empty_form_is_422(client, factory, source):
    before = factory.counts()
    response = client.post(url(source), data="", content_type="application/x-www-form-urlencoded",
                           headers=auth(source))
    assert_error(response, 422)
    assert factory.counts() == before


def test_a_blank_identifier_next_to_a_valid_one_is_fine(client, source):
    assert_created(post_json(client, source, {"external_id": "", "phone": PHONE, "email": "  "}))
