"""A source's page: what its webhook receives (format, field map, VK's confirmation string), how to
connect each sender, and its recent deliveries (contract §2a, §5)."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest

from crm_web.core.extensions import db
from crm_web.models import Source, WebhookDelivery
from crm_web.services.sources import update_source


@pytest.fixture
def source(factory):
    return factory.source(name="Website form", key="website-form")


def page(response) -> str:
    return response.get_data(as_text=True)


def save_format(client, csrf, source, form_format="site_form", rows=(), vk_confirmation="", token=True):
    data = {
        "form_format": form_format,
        "vk_confirmation": vk_confirmation,
        "map_field": [name for name, _ in rows],
        "map_target": [target for _, target in rows],
    }
    if token:
        data["csrf_token"] = csrf("/")
    return client.post(f"/sources/{source.id}/format", data=data)


def settings(fetch, source) -> tuple:
    after = fetch(Source, source.id)
    return after.form_format, after.field_map, after.vk_confirmation


# --- editing what the webhook receives --------------------------------------------


def test_the_page_shows_the_format_the_field_map_rows_and_the_vk_string(client, sign_in, factory, source):
    factory._call(update_source, source.id, {
        "form_format": "vk", "field_map": {"1.3": "name", "Город": "message"}, "vk_confirmation": "a1b2c3",
    })
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    assert re.search(r'<option selected value="vk">|<option value="vk" selected>', html)
    fields = re.findall(r'name="map_field" value="([^"]*)"', html)
    assert fields[:2] == ["1.3", "Город"] and set(fields[2:]) == {""}  # then blank rows to fill in
    assert re.findall(r'<option value="(\w+)" selected>', html)[-2:] == ["name", "message"]
    assert 'value="a1b2c3"' in html
    assert f'action="/sources/{source.id}/format"' in html
    # The editor's script adds and removes rows (no inline script: CSP).
    assert 'data-add-row="#field-map-rows"' in html and '<template id="field-map-row">' in html
    assert "<script>" not in html


def test_a_valid_format_field_map_and_vk_string_are_saved(client, sign_in, csrf, fetch, source):
    sign_in()
    response = save_format(
        client, csrf, source, "site_form",
        rows=[(" 1.3 ", "name"), ("1.6", "name"), ("", ""), ("3", "phone")], vk_confirmation=" 5e1f0a ",
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/sources/{source.id}#format")
    assert settings(fetch, source) == ("site_form", {"1.3": "name", "1.6": "name", "3": "phone"}, "5e1f0a")
    assert "receives is saved" in page(client.get(f"/sources/{source.id}"))


def test_clearing_every_row_and_the_vk_string_clears_them(client, sign_in, csrf, factory, fetch, source):
    factory._call(update_source, source.id, {"form_format": "vk", "field_map": {"a": "phone"},
                                             "vk_confirmation": "abc"})
    sign_in()
    response = save_format(client, csrf, source, "standard", rows=[("", "")], vk_confirmation="")
    assert response.status_code == 303
    assert settings(fetch, source) == ("standard", None, None)


@pytest.mark.parametrize(
    "form_format, rows, vk_confirmation, message",
    [
        ("site_form", [("phone_1", "")], "", "Choose what the field phone_1 becomes."),
        ("site_form", [("", "email")], "", "Type the name of the field as the form sends it."),
        ("site_form", [("Phone", "phone"), ("Phone", "email")], "", "Field name 'Phone' is given twice."),
        ("site_form", [("Phone", "address")], "", "Choose what the field Phone becomes."),
        ("site_form", [(f"f{i}", "message") for i in range(51)], "", "At most 50 entries."),
        ("site_form", [("x" * 256, "name")], "", "is longer than 255 characters"),
        ("telegram", [], "", "Not a valid choice"),
        ("vk", [], "x" * 65, "Field cannot be longer than 64 characters."),
    ],
)
def test_invalid_settings_are_422_with_the_reason_and_change_nothing(
    client, sign_in, csrf, factory, fetch, source, form_format, rows, vk_confirmation, message
):
    factory._call(update_source, source.id, {"field_map": {"Tel": "phone"}})
    sign_in()
    response = save_format(client, csrf, source, form_format, rows=rows, vk_confirmation=vk_confirmation)
    assert response.status_code == 422
    assert message in html_lib.unescape(page(response))
    # What was typed stays on the page to be corrected.
    for name, _ in rows[:3]:
        assert f'value="{name}"' in page(response)
    assert settings(fetch, source) == ("standard", {"Tel": "phone"}, None)


def test_an_unreadable_map_target_sent_by_hand_is_refused_like_the_api(client, sign_in, csrf, fetch, source):
    """The page hands the map to the same service check as PATCH /api/v1/sources (422, nothing saved)."""
    sign_in()
    response = save_format(client, csrf, source, "site_form", rows=[("\x00", "name")])
    assert response.status_code in (400, 422)
    assert settings(fetch, source) == ("standard", None, None)


def test_saving_without_the_csrf_token_is_400_and_changes_nothing(client, sign_in, csrf, fetch, source):
    sign_in()
    response = save_format(
        client, csrf, source, "vk", rows=[("Tel", "phone")], vk_confirmation="abc", token=False
    )
    assert response.status_code == 400
    assert settings(fetch, source) == ("standard", None, None)


def test_operators_may_not_change_what_a_source_receives(client, sign_in, csrf, fetch, source):
    sign_in("operator")
    response = save_format(client, csrf, source, "vk", rows=[("Tel", "phone")])
    assert response.status_code == 403
    assert settings(fetch, source) == ("standard", None, None)


def test_a_change_is_in_the_audit_trail(client, sign_in, csrf, app, source):
    sign_in()
    assert save_format(client, csrf, source, "site_form", rows=[("Tel", "phone")]).status_code == 303
    with app.app_context():
        details = db.session.execute(db.text(
            "SELECT details FROM audit_events WHERE action = 'source.updated' ORDER BY id DESC"
        )).scalar()
        db.session.remove()
    assert "site_form" in details and "Tel" in details


# --- how to connect ---------------------------------------------------------------


SENDERS = {
    "tilda": ["Tilda", "Site Settings → Forms", "Webhook", "test=test", "Data receivers"],
    "elementor": ["Elementor", "Actions After Submit", "Webhook URL", "Advanced Data"],
    "cf7": ["Contact Form 7", "CF7 to Webhook", "Send to Webhook", "Custom Headers", "X-Webhook-Token: "],
    "gravity": [
        "Gravity Forms", "Webhooks Add-On", "Request Format", "JSON", "X-Webhook-Token", "1.3 → Name",
    ],
    "yandex": [
        "Yandex Forms", "Integration", "Request with a set method", "X-Webhook-Token", "application/json",
    ],
    "google": ["Google Forms", "Apps Script", "UrlFetchApp.fetch", "onFormSubmit", "On form submit"],
    "vk": ["VK lead forms", "Callback API", "Secret key", "Confirm", "Lead forms: new"],
}


def test_each_sender_has_its_steps_in_its_own_words(client, sign_in, source):
    sign_in()
    html = html_lib.unescape(page(client.get(f"/sources/{source.id}")))
    for sender, words in SENDERS.items():
        match = re.search(rf'<details class="sender" id="connect-{sender}".*?</details>', html, re.S)
        assert match, sender
        for word in words:
            assert word in match.group(0), (sender, word)


def test_the_addresses_to_paste_carry_the_token_where_the_sender_needs_it(client, sign_in, source):
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    token = source.webhook_token
    # Tilda and Elementor cannot send headers: the address with ?token=, with a copy button.
    with_token = f"http://localhost/webhooks/website-form?token={token}"
    assert f'id="webhook-token-url" type="text" value="{with_token}"' in html
    assert 'data-copy="#webhook-token-url"' in html
    # Contact Form 7's header line, ready to paste.
    assert f'value="X-Webhook-Token: {token}"' in html and 'data-copy="#cf7-header"' in html
    # The Apps Script calls the address without the token and sends it as a header.
    script = re.search(r'<textarea id="google-script"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    script = html_lib.unescape(script)
    assert 'var CRM_URL = "http://localhost/webhooks/website-form";' in script
    assert f'var CRM_TOKEN = "{token}";' in script
    assert '"X-Webhook-Token": CRM_TOKEN' in script and "UrlFetchApp.fetch(CRM_URL" in script
    assert 'data-copy="#google-script"' in html


def test_the_help_says_which_format_each_sender_needs(client, sign_in, factory, source):
    sign_in()
    standard = page(client.get(f"/sources/{source.id}"))
    tilda = re.search(r'id="connect-tilda".*?</details>', standard, re.S).group(0)
    assert "This sender needs the format" in html_lib.unescape(tilda)
    assert re.search(r'id="connect-own"[^>]*\sopen', standard)  # the source's own format is open
    factory._call(update_source, source.id, {"form_format": "site_form"})
    site_form = page(client.get(f"/sources/{source.id}"))
    tilda = re.search(r'id="connect-tilda".*?</details>', site_form, re.S).group(0)
    assert "This sender needs the format" not in html_lib.unescape(tilda)
    vk = re.search(r'id="connect-vk".*?</details>', site_form, re.S).group(0)
    assert "This sender needs the format" in html_lib.unescape(vk)


def test_the_weight_table_comes_before_the_code_samples(client, sign_in, source):
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    weights = html.index('id="weights"')
    for sample in ('id="webhook-curl"', 'id="google-script"', 'id="site-form-html"', 'id="site-form-fetch"'):
        assert weights < html.index(sample), sample


# --- recent deliveries ----------------------------------------------------------------


@pytest.fixture
def put_delivery(app):
    def put(source, **values):
        with app.app_context():
            row = WebhookDelivery(source_id=source.id, status=values.pop("status", 201), **values)
            db.session.add(row)
            db.session.commit()
            db.session.remove()

    return put


def test_recent_deliveries_show_answer_recognised_kept_warnings_and_body(
    client, sign_in, source, put_delivery
):
    put_delivery(
        source, status=201, received_at=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        recognised={"Phone": "phone", "Name": "name", "utm_source": "utm_source", "page_url": "page_url"},
        kept=["Город", "COOKIES"], warnings=['Email "x@" (field "Email") could not be read: no domain'],
        body="Name=Olga\nPhone=+79991234567\nГород=Казань",
    )
    put_delivery(source, status=422, recognised=None, kept=None, warnings=None, body='{"note": " "}')
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    section = html_lib.unescape(html[html.index('id="deliveries"'):])
    assert section.index("422") < section.index("201")  # newest first
    assert "contact stored" in section and "refused" in section
    assert "<code>Phone</code> → Phone" in section and "<code>Name</code> → Name" in section
    assert "<code>utm_source</code> → utm_source" in section
    assert "<code>page_url</code> → page address" in section
    assert "<code>Город</code>, <code>COOKIES</code>" in section
    assert 'Email "x@" (field "Email") could not be read: no domain' in section
    assert "Name=Olga\nPhone=+79991234567\nГород=Казань" in section
    assert "1 warning" in section


def test_deliveries_are_escaped(client, sign_in, source, put_delivery):
    evil = "<script>alert(1)</script>"
    put_delivery(source, recognised={evil: "name"}, kept=[evil], warnings=[evil], body=f'{{"x": "{evil}"}}')
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    assert evil not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


def test_only_the_last_50_deliveries_of_this_source_are_listed(
    client, sign_in, factory, source, put_delivery
):
    other = factory.source(name="Other", key="other")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(55):
        put_delivery(source, received_at=start + timedelta(minutes=i), body=f"delivery-{i:02d}")
    put_delivery(other, body="delivery-of-another-source")
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    shown = re.findall(r"delivery-(\d\d)", html)
    assert shown == [f"{i:02d}" for i in range(54, 4, -1)]
    assert "delivery-of-another-source" not in html


def test_a_source_without_deliveries_says_so(client, sign_in, source):
    sign_in()
    assert "Nothing has arrived yet" in page(client.get(f"/sources/{source.id}"))


def test_a_webhook_request_shows_in_the_deliveries(client, sign_in, factory, source):
    factory._call(update_source, source.id, {"form_format": "site_form", "field_map": {"Город": "message"}})
    response = client.post(
        f"/webhooks/website-form?token={source.webhook_token}",
        data={"Name": "Olga", "Phone": "8 999 765-43-21", "Город": "Казань", "Размер": "XL",
              "COOKIES": "_ga=1; TILDAUTM=utm_source%3Dyandex%7C%7C%7Cutm_medium%3Dcpc%7C%7C%7C"},
    )
    assert response.status_code == 201, page(response)
    sign_in()
    section = html_lib.unescape(page(client.get(f"/sources/{source.id}")).split('id="deliveries"')[1])
    assert "201 contact stored" in " ".join(section.split())
    assert "<code>Phone</code> → Phone" in section and "<code>Город</code> → Message" in section
    assert "<code>Размер</code>" in section
    # The UTM marks the contact got from Tilda's cookie, though COOKIES itself stays a kept field.
    assert "<code>utm_source</code> = yandex" in section and "<code>utm_medium</code> = cpc" in section
    assert source.webhook_token not in section


def test_an_entry_stored_with_a_200_answer_reads_as_stored(client, sign_in, factory, source):
    factory._call(update_source, source.id, {"form_format": "site_form"})
    response = client.post(
        f"/webhooks/website-form?token={source.webhook_token}",
        data={"Имя": "Пётр", "Телефон": "+79991112233"},
        headers={"User-Agent": "WordPress/6.7.1; https://salon.example", "Accept": "application/json"},
    )
    assert response.status_code == 200, page(response)
    sign_in()
    section = html_lib.unescape(page(client.get(f"/sources/{source.id}")).split('id="deliveries"')[1])
    assert "200 contact stored" in " ".join(section.split())
