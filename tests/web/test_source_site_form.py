"""Source pages: allowed origins and thank-you URL in the form; the ready-to-paste site form."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from crm_web.models import Source
from crm_web.services.sources import update_source


@pytest.fixture
def source(factory):
    return factory.source(name="Website form", key="website-form")


def page(response) -> str:
    return response.get_data(as_text=True)


def edit(client, csrf, source, **fields):
    data = {"name": "Website form", "key": "website-form", "is_active": "y", **fields}
    return client.post(f"/sources/{source.id}/edit", data={**data, "csrf_token": csrf("/")})


def test_edit_saves_origins_one_per_line_and_the_thank_you_url(client, sign_in, csrf, fetch, source):
    sign_in()
    response = edit(
        client, csrf, source,
        allowed_origins="https://Shop.example/\r\nhttp://localhost:8080, https://shop.example\r\n",
        thank_you_url="https://shop.example/thanks",
    )
    assert response.status_code == 303, page(response)
    after = fetch(Source, source.id)
    assert after.allowed_origins == "https://shop.example\nhttp://localhost:8080"
    assert after.thank_you_url == "https://shop.example/thanks"
    form = page(client.get(f"/sources/{source.id}/edit"))
    textarea = re.search(r'<textarea[^>]*name="allowed_origins"[^>]*>(.*?)</textarea>', form, re.S)
    assert textarea.group(1).split() == ["https://shop.example", "http://localhost:8080"]
    assert 'value="https://shop.example/thanks"' in form
    detail = page(client.get(f"/sources/{source.id}"))
    assert "<code>https://shop.example</code>, <code>http://localhost:8080</code>" in detail


def test_emptying_the_fields_clears_them(client, sign_in, csrf, factory, fetch, source):
    factory._call(update_source, source.id, {"allowed_origins": ["https://shop.example"],
                                             "thank_you_url": "https://shop.example/thanks"})
    sign_in()
    assert edit(client, csrf, source, allowed_origins="", thank_you_url="").status_code == 303
    after = fetch(Source, source.id)
    assert (after.allowed_origins, after.thank_you_url) == (None, None)


def test_create_takes_origins_and_thank_you_url(client, sign_in, csrf, fetch):
    sign_in()
    response = client.post("/sources/new", data={
        "name": "Landing", "allowed_origins": "https://landing.example",
        "thank_you_url": "https://landing.example/thanks", "csrf_token": csrf("/"),
    })
    assert response.status_code == 303
    source_id = int(response.headers["Location"].rsplit("/", 1)[1])
    created = fetch(Source, source_id)
    assert (created.allowed_origins, created.thank_you_url) == (
        "https://landing.example", "https://landing.example/thanks"
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"allowed_origins": "*"}, "open relay for spam"),
        ({"allowed_origins": "https://shop.example/contact"}, "is not an origin"),
        ({"thank_you_url": "/thanks"}, "absolute http:// or https://"),
        ({"thank_you_url": "javascript:alert(1)"}, "absolute http:// or https://"),
    ],
)
def test_bad_values_are_422_on_their_field_and_change_nothing(
    client, sign_in, csrf, fetch, source, fields, message
):
    sign_in()
    response = edit(client, csrf, source, **{"name": "Renamed", **fields})
    assert response.status_code == 422
    assert message in html_lib.unescape(page(response))
    field = next(iter(fields))
    assert re.search(rf'<small id="{field}-help" class="field-error">', page(response))
    after = fetch(Source, source.id)
    assert (after.name, after.allowed_origins, after.thank_you_url) == ("Website form", None, None)


def test_detail_offers_a_ready_to_paste_form_and_a_fetch_example(client, sign_in, factory, source):
    factory._call(update_source, source.id, {"thank_you_url": "https://shop.example/thanks"})
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    match = re.search(r'<textarea id="site-form-html"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, "no HTML form snippet"
    snippet = html_lib.unescape(match.group(1))
    action = f"http://localhost/webhooks/website-form?token={source.webhook_token}"
    assert f'<form action="{action}" method="post"' in snippet
    for name in ("name", "phone", "email", "message"):
        assert f'name="{name}"' in snippet
    assert 'data-copy="#site-form-html"' in html
    fetch_match = re.search(r'<textarea id="site-form-fetch"[^>]*>(.*?)</textarea>', html, re.S)
    fetch_code = html_lib.unescape(fetch_match.group(1))
    assert 'fetch("http://localhost/webhooks/website-form"' in fetch_code
    assert f'"X-Webhook-Token": "{source.webhook_token}"' in fetch_code
    assert '"Content-Type": "application/json"' in fetch_code
    assert "https://shop.example/thanks" in html
    # No inline script anywhere (strict CSP): copying is static/js/app.js's data-copy handler.
    assert "<script>" not in html


def test_detail_says_when_nothing_is_set(client, sign_in, source):
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    assert "browsers refuse fetch() from every site" in html
    assert "the visitor sees the JSON answer" in html
