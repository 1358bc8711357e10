"""Webhook limits: body size (413) and request rate per client address (429)."""

from __future__ import annotations

import io

import pytest

from tests.conftest import Factory, make_app, wipe
from tests.helpers import assert_error

from .helpers import (
    MAX_BODY,
    PHONE,
    assert_created,
    auth,
    form_of_size,
    json_of_size,
    post_json,
    rows,
    url,
)


@pytest.fixture
def source(factory):
    anna = factory.operator("Anna", max_load=100)
    return factory.source("Site form", key="site", weights={anna: 1})


# --- 413 -------------------------------------------------------------------


@pytest.mark.parametrize("size", [MAX_BODY + 1, MAX_BODY + 1024, 5 * MAX_BODY])
def test_json_body_over_64_kib_is_413(client, factory, source, size):
    before = factory.counts()
    body = json_of_size(size, phone=PHONE)
    response = client.post(url(source), data=body, content_type="application/json", headers=auth(source))
    assert_error(response, 413)
    assert factory.counts() == before


@pytest.mark.parametrize("size", [MAX_BODY + 1, 3 * MAX_BODY])
def test_urlencoded_body_over_64_kib_is_413(client, factory, source, size):
    before = factory.counts()
    body = form_of_size(size, phone=PHONE)
    response = client.post(
        url(source), data=body, content_type="application/x-www-form-urlencoded", headers=auth(source)
    )
    assert_error(response, 413)
    assert factory.counts() == before


def test_multipart_body_over_64_kib_is_413(client, factory, source):
    before = factory.counts()
    response = client.post(
        url(source),
        data={"phone": PHONE, "padding": "x" * MAX_BODY},
        content_type="multipart/form-data",
        headers=auth(source),
    )
    assert response.request.content_length > MAX_BODY
    assert_error(response, 413)
    assert factory.counts() == before


def test_oversized_body_with_token_in_query_is_413(client, factory, source):
    before = factory.counts()
    response = client.post(
        url(source, token=source.webhook_token),
        data=json_of_size(MAX_BODY + 1, phone=PHONE),
        content_type="application/json",
    )
    assert_error(response, 413)
    assert factory.counts() == before


@pytest.mark.parametrize("size", [MAX_BODY - 1, MAX_BODY])
def test_json_body_up_to_64_kib_is_accepted(client, factory, source, size):
    body = json_of_size(size, phone=PHONE)
    response = client.post(url(source), data=body, content_type="application/json", headers=auth(source))
    assert response.request.content_length == size
    assert_created(response)
    assert factory.counts()["contacts"] == 1


@pytest.mark.parametrize("size", [MAX_BODY - 1, MAX_BODY])
def test_urlencoded_body_up_to_64_kib_is_accepted(client, factory, source, size):
    body = form_of_size(size, email="big@example.com")
    response = client.post(
        url(source), data=body, content_type="application/x-www-form-urlencoded", headers=auth(source)
    )
    assert response.request.content_length == size
    assert_created(response)
    assert factory.counts()["contacts"] == 1


def test_multipart_body_just_under_64_kib_is_accepted(client, factory, source):
    response = client.post(
        url(source),
        data={"phone": PHONE, "padding": "x" * (MAX_BODY - 1024)},
        content_type="multipart/form-data",
        headers=auth(source),
    )
    assert response.request.content_length < MAX_BODY
    assert_created(response)


def post_chunked(client, source, body: bytes, content_type: str):
    """A body without Content-Length, as a server passes chunked transfer encoding
    (gunicorn and the Werkzeug server set wsgi.input_terminated for it)."""
    return client.post(
        url(source),
        input_stream=io.BytesIO(body),
        content_type=content_type,
        headers=auth(source, **{"Transfer-Encoding": "chunked"}),
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_chunked_json_body_within_the_limit_is_accepted(client, source):
    response = post_chunked(client, source, json_of_size(1000, phone=PHONE), "application/json")
    assert response.request.content_length is None
    assert_created(response)


def test_chunked_json_body_over_64_kib_is_413(client, factory, source):
    before = factory.counts()
    response = post_chunked(client, source, json_of_size(MAX_BODY + 1024, phone=PHONE), "application/json")
    assert_error(response, 413)
    assert factory.counts() == before


def test_chunked_form_body_over_64_kib_is_413(client, factory, source):
    before = factory.counts()
    body = form_of_size(MAX_BODY + 1024, phone=PHONE)
    response = post_chunked(client, source, body, "application/x-www-form-urlencoded")
    assert_error(response, 413)
    assert factory.counts() == before


def test_chunked_form_one_byte_over_is_413_not_stored_truncated(app, client, factory, source):
    tail = "&email=ivan%40example.com"
    body = ("padding=" + "x" * (MAX_BODY + 1 - len("padding=") - len(tail)) + tail).encode()
    assert len(body) == MAX_BODY + 1
    before = factory.counts()
    response = post_chunked(client, source, body, "application/x-www-form-urlencoded")
    assert rows(app, "SELECT email FROM leads WHERE email LIKE 'ivan@%'") in ([], [("ivan@example.com",)])
    assert_error(response, 413)
    assert factory.counts() == before


# --- 429 -------------------------------------------------------------------


@pytest.fixture
def limited_app(database_url):
    app = make_app(database_url, CRM_WEBHOOK_RATE_LIMIT="3/minute")
    wipe(app)
    yield app
    wipe(app)


def test_fourth_request_from_one_address_is_429(limited_app):
    factory = Factory(limited_app)
    anna = factory.operator("Anna", max_load=100)
    source = factory.source("Site form", key="site", weights={anna: 1})
    client = limited_app.test_client()
    for i in range(3):
        assert_created(post_json(client, source, {"phone": f"+7999123456{i}"}))
    before = factory.counts()
    response = post_json(client, source, {"phone": "+79991234569"})
    assert_error(response, 429)
    assert factory.counts() == before
    # Still limited, whatever the request (an error answer too is a request).
    assert_error(post_json(client, source, {"phone": "not a phone"}), 429)
    assert_error(client.post(url(source), data={"phone": PHONE}, headers=auth(source)), 429)
    assert factory.counts() == before


def test_rate_limit_is_per_client_address(limited_app):
    factory = Factory(limited_app)
    anna = factory.operator("Anna", max_load=100)
    source = factory.source("Site form", key="site", weights={anna: 1})
    client = limited_app.test_client()
    first = {"REMOTE_ADDR": "10.0.0.1"}
    second = {"REMOTE_ADDR": "10.0.0.2"}
    for i in range(3):
        response = client.post(url(source), json={"phone": f"+7999123450{i}"}, headers=auth(source),
                               environ_base=first)
        assert_created(response)
    limited = client.post(url(source), json={"phone": PHONE}, headers=auth(source), environ_base=first)
    assert_error(limited, 429)
    other = client.post(url(source), json={"phone": PHONE}, headers=auth(source), environ_base=second)
    assert_created(other)
    assert factory.counts()["contacts"] == 4


def test_empty_rate_limit_means_no_limit(client, factory, source, app):
    assert app.config["CRM_WEBHOOK_RATE_LIMIT"] == ""
    for i in range(25):
        assert_created(post_json(client, source, {"email": f"user{i}@example.com"}))
    assert factory.counts()["contacts"] == 25
