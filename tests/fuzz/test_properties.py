"""Hostile input thrown at the webhook and every API operation (hypothesis).

Whatever arrives (arbitrary JSON, broken JSON, forms, odd content types,
headers, NUL, lone surrogates escaped in JSON, right-to-left marks, emoji,
very long strings), the app never answers 5xx; an answer of 4xx wrote
nothing (the row count of every table is unchanged); and every JSON answer
of the webhook and the API is documented in the OpenAPI document, errors in
the one error shape. Bounded and derandomized: the same inputs every run.
The staff pages' forms get theirs in tests/security/test_form_fuzz.py.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_web.api.openapi import openapi_document
from tests.api.openapi_check import check_response
from tests.fuzz.strategies import SETTINGS, texts

# --- strategies -----------------------------------------------------------------

# Lone surrogates are valid in JSON text as escapes (\ud800) but are not UTF-8.
surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), texts, surrogates,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.one_of(texts, surrogates), children, max_size=5)
    ),
    max_leaves=12,
)
INTAKE_KEYS = ["external_id", "phone", "email", "name", "message", "source_id", "operator_id", "rules",
               "max_load", "is_active", "key", "weight", "allowed_origins", "thank_you_url", "id",
               "form_format", "field_map", "vk_confirmation"]
objects = st.dictionaries(st.one_of(st.sampled_from(INTAKE_KEYS), texts), json_values, max_size=6)


def _dumps(value) -> bytes:
    # ensure_ascii escapes lone surrogates as \udXXX, which is what a client would send.
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


raw_bodies = st.one_of(
    objects.map(_dumps),
    json_values.map(_dumps),
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b"[]", b"null", b'{"phone": NaN}', b'{"a":' * 2000, b"\xff\xfe{}",
                     b'{"phone": "\\u0000"}', b'{"email": "\\ud800@x.ru"}']),
)
CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded",
    "multipart/form-data", "multipart/form-data; boundary=x", "text/plain", "application/xml",
    "application/json; charset=latin-1", "", "application/JSON",
]
# Header values travel as latin-1 text.
header_text = st.one_of(
    st.sampled_from(["", " ", "x" * 256, "k-1", "\u00e9t\u00e9", "a\tb"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300),
)


def _form_text(value) -> str:
    """Form fields are text a browser can send: no lone surrogates (they cannot be encoded)."""
    return str(value).encode("utf-8", "replace").decode().replace("\x00", "")


def assert_json_error_shape(response) -> None:
    body = response.get_json(silent=True)
    assert isinstance(body, dict) and set(body) == {"error"}, response.get_data(as_text=True)[:300]
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert ("fields" in error) == (response.status_code == 422), error


# --- the world every test starts from -------------------------------------------------


@pytest.fixture
def world(app, factory):
    anna = factory.operator("Anna", max_load=10_000)
    boris = factory.operator("Boris", max_load=1)
    source = factory.source("Site", key="site", weights={anna: 2, boris: 1})
    factory.source("Queue only", key="queue-only")
    sup = factory.staff("supervisor", email="sup@example.com")
    op_user = factory.staff("operator", operator_id=boris.id, email="boris@example.com")
    client = app.test_client()
    first = client.post(f"/webhooks/{source.key}", json={"phone": "+79991234567", "name": "Ivan"},
                        headers={"X-Webhook-Token": source.webhook_token})
    assert first.status_code == 201
    return {"source": source, "sup": sup, "op_user": op_user, "anna": anna, "boris": boris,
            "contact": first.get_json()["contact"], "client": client}


def _check(response, before: dict, factory) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if 400 <= response.status_code < 500:
        assert factory.counts() == before, "a refused request wrote something"


# --- the webhook ---------------------------------------------------------------------


@SETTINGS
@given(
    body=st.one_of(raw_bodies, objects.map(lambda o: {_form_text(k): _form_text(v) for k, v in o.items()})),
    content_type=st.sampled_from(CONTENT_TYPES),
    token=st.one_of(st.just("valid"), st.just(None), header_text),
    token_in_query=st.booleans(),
    idempotency_key=st.one_of(st.none(), header_text),
    key=st.sampled_from(["site", "queue-only", "nope", "SITE", "site%00", "%F0%9F%98%80"]),
)
def test_webhook_never_fails_and_refusals_write_nothing(
    world, factory, body, content_type, token, token_in_query, idempotency_key, key
):
    client, source = world["client"], world["source"]
    secret = source.webhook_token if token == "valid" else token
    headers = {}
    path = f"/webhooks/{key}"
    if secret is not None:
        if token_in_query:
            path += "?token=" + re.sub(r"[^A-Za-z0-9_-]", lambda m: f"%{ord(m.group()) % 256:02X}", secret)
        else:
            headers["X-Webhook-Token"] = secret
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    if isinstance(body, dict):  # a form: let the client encode it
        kwargs = {"data": body}
        if content_type.startswith("multipart"):
            kwargs["content_type"] = "multipart/form-data"
    else:
        kwargs = {"data": body, "content_type": content_type} if content_type else {"data": body}
    before = factory.counts()
    response = client.post(path, headers=headers, **kwargs)
    _check(response, before, factory)
    assert response.mimetype == "application/json"
    check_response("POST", path, response)
    if response.status_code >= 400:
        assert_json_error_shape(response)


# --- every API operation ------------------------------------------------------------------

OPERATIONS = [
    (method.upper(), path)
    for path, item in openapi_document()["paths"].items()
    if path.startswith("/api/")
    for method in item
    if method != "parameters"
]
QUERY_NAMES = ["page", "per_page", "after", "status", "operator_id", "source_id", "lead_id", "phone", "email",
               "external_id", "token"]


@SETTINGS
@given(
    operation=st.sampled_from(OPERATIONS),
    who=st.sampled_from(["sup", "op_user", "none", "garbage"]),
    ids=st.one_of(st.just("real"), st.sampled_from(["0", "999999", "2147483648", "99999999999999999999"])),
    body=st.one_of(st.none(), raw_bodies),
    content_type=st.sampled_from(CONTENT_TYPES),
    query=st.dictionaries(st.sampled_from(QUERY_NAMES), texts.filter(lambda t: len(t) < 500), max_size=3),
)
def test_api_never_fails_answers_as_documented_and_refusals_write_nothing(
    world, factory, operation, who, ids, body, content_type, query
):
    method, template = operation
    client = world["client"]
    real = {
        "operator_id": world["anna"].id, "source_id": world["source"].id,
        "contact_id": world["contact"]["id"], "lead_id": world["contact"]["lead_id"],
    }
    path = re.sub(r"{([a-z_]+)}", lambda m: str(real[m.group(1)]) if ids == "real" else ids, template)
    headers = {
        "sup": world["sup"].headers, "op_user": world["op_user"].headers,
        "none": {}, "garbage": {"Authorization": "Bearer \u00e9\u00e9 crm_x"},
    }[who]
    kwargs = {"headers": headers, "query_string": {k: v.replace("\x00", "") for k, v in query.items()}}
    if body is not None:
        kwargs["data"] = body
        if content_type:
            kwargs["content_type"] = content_type
    before = factory.counts()
    response = client.open(path, method=method, **kwargs)
    _check(response, before, factory)
    check_response(method, path, response)
    if response.status_code >= 400:
        assert_json_error_shape(response)
