"""Phones and emails as people write and use them (contract §5): shown `+7 999 123-45-67` as `tel:`
links, emails as `mailto:` links, on every page that shows a lead; typed into inputs that bring up
the right keyboard and the browser's saved values."""

from __future__ import annotations

import re

import pytest

PHONE = "+79991234567"
SHOWN = "+7 999 123-45-67"
EMAIL = "ivan@example.org"
PHONE_LINK = f'href="tel:{PHONE}" class="nowrap">{SHOWN}</a>'
EMAIL_LINK = f'href="mailto:{EMAIL}">{EMAIL}</a>'


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def assert_linked(html: str) -> None:
    assert PHONE_LINK in html
    assert EMAIL_LINK in html
    assert f">{PHONE}<" not in html  # nowhere as stored


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=10)


@pytest.fixture
def lead_contacts(factory, make_contact, anna):
    """One lead with a phone and an email: a contact assigned to Anna, one waiting in the queue."""
    assigned = make_contact(factory.source("Site", weights={anna: 1}), phone="8 (999) 123-45-67",
                            email=EMAIL, name="Ivan")
    waiting = make_contact(factory.source("Night"), phone=PHONE, message="Call me")
    assert waiting.lead_id == assigned.lead_id
    return assigned, waiting


@pytest.fixture
def pair(factory, make_contact):
    """A possible duplicate: a lead with the phone, another with the email, named together once."""
    night = factory.source("Night")
    keep = make_contact(night, phone=PHONE, name="Ivan").lead_id
    other = make_contact(night, email=EMAIL, name="Ivan P.").lead_id
    make_contact(night, phone=PHONE, email=EMAIL)
    return keep, other


@pytest.mark.parametrize("path", ["/contacts", "/contacts/{assigned}", "/queue", "/leads", "/leads/{lead}"])
def test_staff_pages_show_the_phone_as_written_and_link_phone_and_email(
    client, sign_in, lead_contacts, path
):
    assigned, _waiting = lead_contacts
    sign_in("supervisor")
    assert_linked(page(client.get(path.format(assigned=assigned.id, lead=assigned.lead_id))))


def test_my_contacts_show_the_phone_as_written_and_link_it(client, sign_in, lead_contacts, anna):
    sign_in("operator", operator_id=anna.id)
    assert_linked(page(client.get("/my")))


def test_duplicate_and_merge_pages_show_the_phone_as_written_and_link_it(client, sign_in, pair):
    keep, other = pair
    sign_in("supervisor")
    assert_linked(page(client.get("/leads/duplicates")))
    assert_linked(page(client.get(f"/leads/merge?keep={keep}&other={other}")))
    lead = page(client.get(f"/leads/{other}"))  # its possible duplicate, the lead with the phone
    assert PHONE_LINK in lead


def test_staff_emails_on_the_users_page_are_mailto_links(client, sign_in):
    me = sign_in("supervisor")
    assert f'href="mailto:{me.email}">{me.email}</a>' in page(client.get("/users"))


def test_a_landline_and_a_foreign_number_are_shown_in_their_own_format(
    client, sign_in, factory, make_contact
):
    night = factory.source("Night")
    moscow = make_contact(night, phone="+7 (495) 123-45-67")
    make_contact(night, phone="+44 20 7946 0958")
    sign_in("supervisor")
    lead = page(client.get(f"/leads/{moscow.lead_id}"))
    assert 'href="tel:+74951234567" class="nowrap">+7 495 123-45-67</a>' in lead
    assert 'href="tel:+442079460958" class="nowrap">+44 20 7946 0958</a>' in page(client.get("/queue"))


def test_the_api_and_the_csv_keep_the_stored_number(client, sign_in, factory, lead_contacts):
    assigned, _waiting = lead_contacts
    sup = factory.staff("supervisor")
    lead = client.get(f"/api/v1/leads/{assigned.lead_id}", headers=sup.headers).get_json()
    assert lead["phone"] == PHONE
    sign_in("supervisor")
    csv = client.get("/leads/export.csv").get_data(as_text=True)
    assert PHONE in csv and SHOWN not in csv


# --- inputs ------------------------------------------------------------------------------------------


def input_tag(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no input {name}"
    return match.group(0)


def attributes(tag: str) -> dict[str, str]:
    return dict(re.findall(r'([a-z-]+)="([^"]*)"', tag))


PHONE_INPUT = {"type": "tel", "autocomplete": "tel", "inputmode": "tel"}
EMAIL_INPUT = {"type": "email", "autocomplete": "email", "inputmode": "email"}


def test_the_intake_form_types_its_phone_and_email(client, sign_in, factory):
    factory.source("Night")
    sign_in("supervisor")
    html = page(client.get("/contacts/new"))
    assert attributes(input_tag(html, "phone")).items() >= PHONE_INPUT.items()
    assert attributes(input_tag(html, "email")).items() >= EMAIL_INPUT.items()


def test_the_new_user_form_types_its_email(client, sign_in):
    sign_in("supervisor")
    assert attributes(input_tag(page(client.get("/users/new")), "email")).items() >= EMAIL_INPUT.items()


def test_the_sign_in_email_keeps_the_password_managers_username(client):
    email = attributes(input_tag(page(client.get("/login")), "email"))
    assert (email["type"], email["inputmode"], email["autocomplete"]) == ("email", "email", "username")


def test_a_typed_phone_is_still_checked_by_the_server(client, sign_in, factory, csrf):
    source = factory.source("Night")
    sign_in("supervisor")
    response = client.post("/contacts/new", data={
        "csrf_token": csrf("/contacts/new"), "source_id": source.id, "phone": "12", "email": "not an email",
    })
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Not a possible phone number." in html
    assert "Not a valid email address" in html
