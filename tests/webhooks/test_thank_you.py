"""Plain HTML form posts to a source with a thank-you URL: 303 there, or a readable error page.

JSON clients (a JSON body, or Accept preferring application/json) keep the
contract's JSON answers; without a thank-you URL nothing changes.
"""

from __future__ import annotations

import io
import re

import pytest

from crm_web.domain.phone_display import example_phone
from crm_web.services.sources import update_source
from tests.helpers import assert_error, csrf_from

from .helpers import PHONE, assert_created, auth, rows, url

THANKS = "https://shop.example/thanks?from=crm"
# What Chromium sends when a form is submitted (a navigation).
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.fixture
def source(factory):
    anna = factory.operator("Anna", max_load=100)
    source = factory.source("Shop", key="shop", weights={anna: 1})
    factory._call(update_source, source.id, {"thank_you_url": THANKS})
    return source


def form_post(client, source, data, accept: str | None = BROWSER_ACCEPT, token: bool = True, **headers):
    if accept is not None:
        headers["Accept"] = accept
    target = url(source, token=source.webhook_token) if token else url(source)
    return client.post(target, data=data, headers=headers)


def contacts(app) -> list[tuple]:
    return rows(app, "SELECT c.name, c.message, l.phone FROM contacts c JOIN leads l ON l.id = c.lead_id")


@pytest.mark.parametrize(
    "accept", [BROWSER_ACCEPT, "*/*", None, "text/html", "application/json;q=0.5, text/html"]
)
def test_a_form_post_is_sent_to_the_thank_you_page_with_303(app, client, source, accept):
    response = form_post(client, source, {"phone": PHONE, "name": "Ivan", "message": "Call me"}, accept)
    assert response.status_code == 303
    assert response.headers["Location"] == THANKS
    assert contacts(app) == [("Ivan", "Call me", PHONE)]


def test_a_multipart_form_post_is_redirected_too(app, client, source):
    response = client.post(
        url(source, token=source.webhook_token),
        data={"email": "ivan@example.com", "attachment": (io.BytesIO(b"x"), "a.txt")},
        content_type="multipart/form-data",
        headers={"Accept": BROWSER_ACCEPT},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == THANKS
    assert len(contacts(app)) == 1


def test_the_token_may_also_come_in_the_header(app, client, source):
    response = form_post(client, source, {"phone": PHONE}, token=False, **auth(source))
    assert response.status_code == 303


def test_an_idempotent_replay_is_redirected_and_creates_nothing(app, client, source):
    first = form_post(client, source, {"phone": PHONE}, **{"Idempotency-Key": "k-1"})
    again = form_post(client, source, {"phone": PHONE}, **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (303, 303)
    assert again.headers["Location"] == THANKS
    assert len(contacts(app)) == 1


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/html;q=0.9"])
def test_a_form_post_asking_for_json_gets_json(app, client, source, accept):
    body = assert_created(form_post(client, source, {"phone": PHONE}, accept))
    assert body["lead"]["created"] is True


def test_a_json_body_gets_json_whatever_it_accepts(client, source):
    response = client.post(url(source), json={"phone": PHONE}, headers=auth(source, Accept=BROWSER_ACCEPT))
    assert_created(response)
    error = client.post(url(source), json={"phone": "nope"}, headers=auth(source, Accept=BROWSER_ACCEPT))
    assert_error(error, 422, fields={"phone"})


def test_without_a_thank_you_url_a_form_post_gets_json_as_before(client, factory):
    plain = factory.source("Plain", key="plain")
    response = form_post(client, plain, {"phone": PHONE})
    assert_created(response)
    assert_error(form_post(client, plain, {"name": "No identifier"}), 422)


# --- errors of a form post: a page, with the right status, and nothing written ---------------


@pytest.mark.parametrize(
    "case, status",
    [("no_identifier", 422), ("bad_phone", 422), ("wrong_token", 401), ("too_large", 413)],
)
def test_errors_of_a_form_post_are_a_readable_page_with_the_status(client, factory, source, case, status):
    before = factory.counts()
    if case == "no_identifier":
        response = form_post(client, source, {"name": "Ivan"}, Referer="https://shop.example/contact")
    elif case == "bad_phone":
        response = form_post(client, source, {"phone": "12", "name": "Ivan"})
    elif case == "wrong_token":
        response = client.post(url(source, token="wrong"), data={"phone": PHONE},
                               headers={"Accept": BROWSER_ACCEPT})
    else:
        response = form_post(client, source, {"phone": PHONE, "message": "x" * (65 * 1024)})
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Your request was not sent" in page
    assert "Location" not in response.headers
    assert factory.counts() == before
    if case == "no_identifier":
        assert "external_id, phone or email" in page  # the webhook's own message
        assert 'href="https://shop.example/contact"' in page  # back to the form
    if case == "bad_phone":
        assert "<strong>Phone</strong>: Not a possible phone number." in page


def test_the_error_page_escapes_what_the_visitor_sent(client, source):
    response = form_post(client, source, {"email": "<script>alert(1)</script>"},
                         Referer="javascript:alert(1)")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<script>alert" not in page
    assert "javascript:" not in page  # only an http(s) referrer becomes the back link


def test_a_form_post_asking_for_json_gets_json_errors(client, factory, source):
    before = factory.counts()
    assert_error(form_post(client, source, {"name": "Ivan"}, "application/json"), 422)
    assert factory.counts() == before


def test_unknown_source_stays_json(client, source):
    response = client.post("/webhooks/unknown?token=x", data={"phone": PHONE},
                           headers={"Accept": BROWSER_ACCEPT})
    assert_error(response, 404)


# --- the visitor's language and hints (contract §5) ----------------------------------------------

RU_BROWSER = "ru-RU,ru;q=0.9,en;q=0.8"


def lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))
    assert match, "no <html lang>"
    return match.group(1)


@pytest.mark.parametrize(
    "accept_language, expected",
    [
        (RU_BROWSER, "ru"),
        ("en;q=0.5, ru;q=0.9", "ru"),  # q-values, not the order, decide
        ("de-DE, ru;q=0.2", "ru"),  # the best language we have
        ("en-US,en;q=0.9", "en"),
        ("ru;q=0.1, en", "en"),
        ("de-DE,fr;q=0.8", "en"),  # neither: English
        (None, "en"),
    ],
)
def test_the_error_page_speaks_the_visitors_accept_language(client, source, accept_language, expected):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = form_post(client, source, {"phone": "12"}, **headers)
    assert response.status_code == 422
    assert lang(response) == expected
    assert response.headers["Content-Language"] == expected
    assert "Accept-Language" in response.headers["Vary"]
    page = response.get_data(as_text=True)
    if expected == "ru":
        assert "Ваша заявка не отправлена" in page
        assert "Проверьте введённые данные" in page
        assert "<strong>Телефон</strong>: Проверьте номер — похоже, в нём не хватает цифр" in page
        assert "Your request was not sent" not in page
    else:
        assert "Your request was not sent" in page
        assert "Ваша заявка" not in page


def test_the_webhooks_own_message_is_translated_for_a_russian_visitor(client, source):
    response = form_post(client, source, {"name": "Иван"}, **{"Accept-Language": RU_BROWSER})
    page = response.get_data(as_text=True)
    assert "Укажите хотя бы одно из полей" in page
    assert "Give at least one" not in page


@pytest.mark.parametrize("staff_choice, browser, expected", [("ru", "en-US", "en"), ("en", RU_BROWSER, "ru")])
def test_a_signed_in_staff_members_language_does_not_choose_the_visitors_page(
    client, source, sign_in, staff_choice, browser, expected
):
    sign_in("supervisor")
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/language", data={"csrf_token": token, "locale": staff_choice}).status_code == 303
    response = form_post(client, source, {"phone": "12"}, **{"Accept-Language": browser})
    assert response.status_code == 422
    assert lang(response) == expected


def test_an_unreadable_phone_gets_an_example_of_a_valid_one_in_the_regions_format(client, source):
    example = example_phone("RU")
    assert example.startswith("+7 9")  # as pages show phones: "+7 912 345-67-89"
    english = form_post(client, source, {"phone": "12"}).get_data(as_text=True)
    assert f"For example: {example}" in english
    russian = form_post(client, source, {"phone": "12"}, **{"Accept-Language": RU_BROWSER})
    assert f"Например: {example}" in russian.get_data(as_text=True)


def test_the_example_phone_follows_crm_phone_region(app, client, source, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_PHONE_REGION", "GB")
    page = form_post(client, source, {"phone": "12"}).get_data(as_text=True)
    assert f"For example: {example_phone('GB')}" in page
    assert example_phone("GB").startswith("+44 ")


def test_an_unreadable_email_gets_an_example_address(client, source):
    response = form_post(client, source, {"email": "nope"}, **{"Accept-Language": RU_BROWSER})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<strong>Эл. почта</strong>" in page
    assert "Например: name@example.com" in page
    assert "Например: +7" not in page  # only the field that was refused


def test_with_no_identifier_the_visitor_is_shown_a_phone_and_an_email_to_follow(client, source):
    page = form_post(client, source, {"name": "Ivan"}).get_data(as_text=True)
    assert f"For example: {example_phone('RU')}" in page
    assert "For example: name@example.com" in page


def test_json_answers_stay_english_whatever_the_browser_language(client, source):
    ru = {"Accept-Language": RU_BROWSER}
    json_error = form_post(client, source, {"phone": "12"}, "application/json", **ru)
    assert_error(json_error, 422, fields={"phone"})
    assert json_error.get_json()["error"]["fields"]["phone"] == ["Not a possible phone number."]
    assert "Content-Language" not in json_error.headers


def test_only_the_error_page_chooses_a_language(client, source, monkeypatch):
    """The intake is the hot path: JSON answers and the 303 never parse Accept-Language."""
    from crm_web.webhooks import visitor

    chosen = []
    real = visitor.browser_locale
    monkeypatch.setattr(visitor, "browser_locale", lambda: chosen.append(1) or real())
    ru = {"Accept-Language": RU_BROWSER}
    assert form_post(client, source, {"phone": PHONE}, **ru).status_code == 303
    assert_created(form_post(client, source, {"email": "a@example.com"}, "application/json", **ru))
    assert client.post(url(source), json={"phone": "12"}, headers=auth(source, **ru)).status_code == 422
    assert chosen == []
    assert form_post(client, source, {"phone": "12"}, **ru).status_code == 422
    assert chosen == [1]


# --- setting the URL: API and staff form -------------------------------------------------------


def test_api_sets_shows_and_clears_the_thank_you_url(client, factory, source):
    sup = factory.staff("supervisor")
    path = f"/api/v1/sources/{source.id}"
    assert client.get(path, headers=sup.headers).get_json()["thank_you_url"] == THANKS
    response = client.patch(path, json={"thank_you_url": " https://other.example/ok "}, headers=sup.headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["thank_you_url"] == "https://other.example/ok"
    cleared = client.patch(path, json={"thank_you_url": None}, headers=sup.headers)
    assert cleared.get_json()["thank_you_url"] is None
    assert_created(form_post(client, source, {"phone": PHONE}))  # back to JSON


@pytest.mark.parametrize(
    "value",
    [
        "/thanks",
        "shop.example/thanks",
        "javascript:alert(1)",
        "ftp://shop.example/thanks",
        "https://",
        "https://shop.example/thanks page",
        "https://" + "a" * 2048 + ".example",
        42,
        ["https://shop.example"],
    ],
)
def test_api_refuses_a_bad_thank_you_url_with_422_and_changes_nothing(client, factory, source, value):
    sup = factory.staff("supervisor")
    path = f"/api/v1/sources/{source.id}"
    response = client.patch(path, json={"name": "Renamed", "thank_you_url": value}, headers=sup.headers)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["error"]["fields"]) == {"thank_you_url"}
    body = client.get(path, headers=sup.headers).get_json()
    assert (body["name"], body["thank_you_url"]) == ("Shop", THANKS)


def test_a_2048_character_url_is_accepted(client, factory, source):
    sup = factory.staff("supervisor")
    long_url = "https://shop.example/" + "a" * (2048 - len("https://shop.example/"))
    path = f"/api/v1/sources/{source.id}"
    response = client.patch(path, json={"thank_you_url": long_url}, headers=sup.headers)
    assert response.status_code == 200
    assert response.get_json()["thank_you_url"] == long_url
