"""Allowed origins and thank-you URLs of site forms (no app, no database)."""

from __future__ import annotations

import pytest

from crm_web.domain.site_forms import (
    normalise_origin,
    origins_from_text,
    origins_to_text,
    parse_origins,
    parse_thank_you_url,
    split_origins,
)


@pytest.mark.parametrize(
    "text, origin",
    [
        ("https://www.example.com", "https://www.example.com"),
        ("HTTPS://WWW.Example.COM/", "https://www.example.com"),  # as browsers send it
        ("https://example.com:443", "https://example.com"),  # default ports are left out by browsers
        ("http://example.com:80", "http://example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://пример.рф", "https://xn--e1afmkfd.xn--p1ai"),
    ],
)
def test_origins_are_written_as_browsers_send_them(text, origin):
    assert normalise_origin(text) == origin


@pytest.mark.parametrize(
    "text",
    ["*", "null", "example.com", "//example.com", "ftp://example.com", "https://example.com/path",
     "https://example.com?q", "https://example.com#x", "https://u@example.com", "https://example.com:0",
     "https://example.com:65536", "https://ex ample.com", "https://-x.example", "https://", ""],
)
def test_anything_else_is_not_an_origin(text):
    assert normalise_origin(text) is None


def test_parse_deduplicates_keeps_order_and_refuses_the_wildcard_with_a_reason():
    origins, errors = parse_origins(["https://b.example", "https://B.example/", "https://a.example"])
    assert (origins, errors) == (["https://b.example", "https://a.example"], [])
    _, errors = parse_origins(["*", "*"])
    assert len(errors) == 1 and "open relay for spam" in errors[0]


def test_at_most_twenty_origins():
    assert parse_origins([f"https://s{i}.example" for i in range(20)])[1] == []
    assert "At most 20" in parse_origins([f"https://s{i}.example" for i in range(21)])[1][0]


def test_text_box_and_storage_round_trip():
    assert split_origins("https://a.example\r\n\r\nhttps://b.example, https://c.example ") == [
        "https://a.example", "https://b.example", "https://c.example"
    ]
    assert origins_from_text(origins_to_text(["https://a.example", "https://b.example"])) == [
        "https://a.example", "https://b.example"
    ]
    assert origins_to_text([]) is None and origins_from_text(None) == []


@pytest.mark.parametrize(
    "value, result",
    [(None, None), ("", None), ("  ", None), (" https://a.example/thanks?x=1#top ", "https://a.example/thanks?x=1#top"),
     ("http://localhost:8000/ok", "http://localhost:8000/ok")],
)
def test_thank_you_url_accepted(value, result):
    assert parse_thank_you_url(value) == (result, [])


@pytest.mark.parametrize(
    "value",
    ["/thanks", "javascript:alert(1)", "data:text/html,hi", "https://", "https://a.example/\nx", "https://a:99999/",
     "https://a.example/" + "x" * 2048, 5],
)
def test_thank_you_url_refused(value):
    url, errors = parse_thank_you_url(value)
    assert url is None and errors
