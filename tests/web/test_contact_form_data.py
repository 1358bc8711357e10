"""What a site form sent, on the pages (contract §2a): a contact's kept fields, UTM marks, page address
and warnings; the warning badge in the lists; the utm_source filter; the UTM source on a lead's page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from crm_web.core.extensions import db
from crm_web.models import Contact
from crm_web.services.sources import update_source

EVIL = "<script>alert(1)</script>"


def page(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=10)


@pytest.fixture
def site(factory, anna):
    source = factory.source(name="Landing", key="landing", weights={anna: 1})
    factory._call(update_source, source.id, {"form_format": "site_form"})
    return source


@pytest.fixture
def queue_source(factory):
    return factory.source(name="Nobody", key="nobody")


@pytest.fixture
def mark(app):
    """Set what a form sent on a stored contact, as the intake writes it."""

    def put(contact, **values):
        if "utm" in values:
            values.setdefault("utm_source", (values["utm"] or {}).get("utm_source"))
        with app.app_context():
            db.session.execute(update(Contact).where(Contact.id == contact.id).values(**values))
            db.session.commit()
            db.session.remove()

    return put


# --- a contact's page ----------------------------------------------------------------


def test_a_site_form_contact_shows_kept_fields_utm_page_address_and_warnings(client, sign_in, site):
    response = client.post(f"/webhooks/landing?token={site.webhook_token}", data={
        "Name": "Olga", "Phone": "8 999 765-43-21", "Email": "olga@nowhere", "Город": "Казань",
        "utm_source": "yandex", "utm_campaign": "spring", "page_url": "https://shop.example/offer?x=1&y=2",
    })
    assert response.status_code == 201, page(response)
    contact_id = response.get_json()["contact"]["id"]
    sign_in()
    html = page(client.get(f"/contacts/{contact_id}"))
    assert "Other fields of the form" in html
    assert re.search(r"<dt>Город</dt><dd[^>]*>Казань</dd>", html)
    assert re.search(r"<dt>Email</dt><dd[^>]*>olga@nowhere</dd>", html)  # unreadable: kept as sent
    assert "<dt>utm_source</dt><dd>yandex</dd>" in html and "<dt>utm_campaign</dt><dd>spring</dd>" in html
    link = 'href="https://shop.example/offer?x=1&amp;y=2" rel="noopener noreferrer nofollow" target="_blank">'
    assert f"<a {link}" in html
    assert "Not everything the form sent could be read" in html
    assert "olga@nowhere" in html.split("Not everything the form sent could be read")[1].split("</div>")[0]


def test_everything_a_form_sent_is_escaped(client, sign_in, make_contact, mark, site):
    contact = make_contact(site, phone="+79990000001")
    mark(contact, form_fields={EVIL: EVIL}, utm={"utm_source": EVIL, "utm_term": EVIL},
         page_url=f"https://shop.example/?q={EVIL}", warnings=[EVIL])
    sign_in()
    html = page(client.get(f"/contacts/{contact.id}"))
    assert EVIL not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5
    for listing in ("/contacts", f"/leads/{contact.lead_id}"):
        assert EVIL not in page(client.get(listing)), listing


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,hi", "//evil.example/x", "ftp://files.example/a",
     "http:///nohost", " javascript:alert(1)"],
)
def test_a_page_address_that_is_not_http_is_text_not_a_link(client, sign_in, make_contact, mark, site, url):
    contact = make_contact(site, phone="+79990000002")
    mark(contact, page_url=url)
    sign_in()
    html = page(client.get(f"/contacts/{contact.id}"))
    assert '<span class="page-url">' in html
    assert 'rel="noopener noreferrer nofollow"' not in html


def test_a_contact_without_form_data_shows_no_empty_sections(client, sign_in, make_contact, site):
    contact = make_contact(site, phone="+79990000003", message="Hi")
    sign_in()
    html = page(client.get(f"/contacts/{contact.id}"))
    assert "Other fields of the form" not in html and "Where it came from" not in html
    assert "Not everything the form sent could be read" not in html
    assert "badge-warn" not in html


# --- the warning badge in the lists --------------------------------------------------


def warned_ids(html: str) -> list[int]:
    badge = r'href="/contacts/(\d+)">#\d+</a><span class="badge badge-warn"'
    return [int(n) for n in re.findall(badge, html)]


def test_lists_mark_contacts_with_warnings(client, sign_in, make_contact, mark, site, queue_source):
    warned = make_contact(site, phone="+79990000004")
    clean = make_contact(site, phone="+79990000005")
    waiting = make_contact(queue_source, phone="+79990000006")
    waiting_clean = make_contact(queue_source, phone="+79990000007")
    mark(warned, warnings=['Phone "12" (field "tel") could not be read: too short'])
    mark(waiting, warnings=["No phone, email or external id could be read: stored as a new lead."])
    mark(clean, warnings=[])
    sign_in()
    contacts = page(client.get("/contacts"))
    assert warned_ids(contacts) == [waiting.id, warned.id]
    assert 'title="Phone &#34;12&#34; (field &#34;tel&#34;) could not be read: too short"' in contacts
    queue = page(client.get("/queue"))
    assert warned_ids(queue) == [waiting.id]
    assert f'href="/contacts/{waiting_clean.id}"' in queue
    assert warned_ids(page(client.get(f"/leads/{warned.lead_id}"))) == [warned.id]


def test_an_operators_own_list_marks_them_too(client, sign_in, factory, make_contact, mark, anna, site):
    contact = make_contact(site, phone="+79990000008")
    mark(contact, warnings=["something"])
    sign_in("operator", operator_id=anna.id)
    assert warned_ids(page(client.get("/my"))) == [contact.id]


def test_a_stored_warning_is_shown_in_the_pages_language(client, sign_in, make_contact, mark, site, factory):
    contact = make_contact(site, phone="+79990000009")
    # Stored in English, as the webhook and the API say it; pages read each in their language, a
    # message with values by the template it was made from (the values as stored).
    mark(contact, warnings=["Not a phone number.", 'Phone "12" (field "tel") could not be read: x'])
    sign_in()
    client.post("/language", data={"locale": "ru", "csrf_token": _csrf(client)})
    html = page(client.get(f"/contacts/{contact.id}"))
    assert "Это не похоже на номер телефона." in html and "Not a phone number." not in html
    assert "Не удалось прочитать телефон «12» (поле «tel»): x" in html and "could not be read" not in html


def _csrf(client) -> str:
    from tests.helpers import csrf_from

    return csrf_from(page(client.get("/contacts")))


# --- the utm_source filter ---------------------------------------------------------------


def listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td><a href="/contacts/(\d+)">', html)]


def test_the_list_filters_by_utm_source_exactly(client, sign_in, make_contact, mark, site, queue_source):
    google = make_contact(site, phone="+79990000010")
    google_queued = make_contact(queue_source, phone="+79990000011")
    yandex = make_contact(site, phone="+79990000012")
    make_contact(site, phone="+79990000013")  # no utm at all
    mark(google, utm={"utm_source": "google", "utm_medium": "cpc"})
    mark(google_queued, utm={"utm_source": "google"})
    mark(yandex, utm={"utm_source": "yandex"})
    sign_in()
    html = page(client.get("/contacts?utm_source=google"))
    assert listed(html) == [google_queued.id, google.id]
    assert 'name="utm_source"' in html and 'value="google"' in html
    # Trimmed, and combined with the other filters.
    assert listed(page(client.get("/contacts?utm_source=+google+&status=assigned"))) == [google.id]
    in_queue_source = page(client.get(f"/contacts?utm_source=google&source_id={queue_source.id}"))
    assert listed(in_queue_source) == [google_queued.id]
    assert listed(page(client.get("/contacts?utm_source=Google"))) == []  # exact, as the form sent it
    # The CSV link keeps the filter.
    assert re.search(r'href="/contacts/export\.csv\?[^"]*utm_source=google', html)


def test_the_utm_source_filter_keeps_paging(client, sign_in, make_contact, mark, site):
    made = [make_contact(site, phone=f"+7999100{i:04d}") for i in range(52)]
    for contact in made:
        mark(contact, utm={"utm_source": "vk"})
    make_contact(site, phone="+79992000000")
    sign_in()
    first = page(client.get("/contacts?utm_source=vk"))
    assert len(listed(first)) == 50
    next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "utm_source=vk" in next_link
    second = page(client.get(next_link))
    assert listed(second) == [made[1].id, made[0].id]


def test_a_utm_source_longer_than_the_stored_ones_is_refused_on_the_form(client, sign_in):
    sign_in()
    response = client.get("/contacts?utm_source=" + "x" * 256)
    assert response.status_code == 422
    assert "Some filters are not valid" in page(response)


# --- a lead's page --------------------------------------------------------------------


def test_a_leads_page_shows_its_contacts_utm_source(client, sign_in, make_contact, mark, site):
    first = make_contact(site, phone="+79990000020")
    second = make_contact(site, phone="+79990000020", message="again")
    mark(first, utm={"utm_source": "instagram"})
    sign_in()
    html = page(client.get(f"/leads/{first.lead_id}"))
    assert "UTM source" in html
    assert '<a href="/contacts?utm_source=instagram">instagram</a>' in html
    rows = re.findall(r'<tr>\s*<td><a href="/contacts/(\d+)">.*?</tr>', html, re.S)
    assert [int(r) for r in rows] == [first.id, second.id]
