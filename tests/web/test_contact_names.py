"""One name for a contact on every page: the name its request gave, then the lead's when it differs."""

from __future__ import annotations

import re

import pytest

PHONE = "+79990005511"
SECONDARY = '<span class="muted lead-name">· client: Nikolai</span>'


def page(response) -> str:
    return response.get_data(as_text=True)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=5)


@pytest.fixture
def irina(factory, make_contact, anna):
    """Nikolai wrote first; a later request from the same phone said "Irina" (the lead keeps Nikolai)."""
    queue = factory.source(name="Night")  # nobody has a weight: its contacts wait
    make_contact(queue, phone=PHONE, name="Nikolai")
    waiting = make_contact(queue, phone=PHONE, name="Irina", message="Call me in the evening")
    mine = make_contact(factory.source(name="Day", weights={anna: 1}), phone=PHONE, name="Irina")
    return waiting, mine


@pytest.mark.parametrize("path", ["/", "/queue", "/contacts", "/my"])
def test_lists_show_the_given_name_first_and_the_lead_name_muted(client, sign_in, anna, irina, path):
    sign_in("operator", operator_id=anna.id)
    html = page(client.get(path))
    assert SECONDARY in html
    shown = text_of(html)
    assert shown.index("Irina") < shown.index("· client: Nikolai")


def test_the_contact_page_shows_the_same_name(client, sign_in, irina):
    waiting, _ = irina
    sign_in()
    html = page(client.get(f"/contacts/{waiting.id}"))
    assert re.search(r'<dd class="contact-name">\s*Irina\s*' + re.escape(SECONDARY), html)


def test_no_secondary_name_when_the_names_agree_or_the_request_gave_none(
    client, sign_in, factory, make_contact
):
    source = factory.source(name="Site")
    make_contact(source, phone=PHONE, name="Nikolai")
    same = make_contact(source, phone=PHONE, name=" nikolai ")
    unnamed = make_contact(source, phone=PHONE)
    sign_in()
    html = page(client.get("/queue"))
    assert "client:" not in html
    for contact in (same, unnamed):
        detail = page(client.get(f"/contacts/{contact.id}"))
        assert "client:" not in detail
    assert re.search(r'<dd class="contact-name">\s*Nikolai\s*</dd>', detail)  # the lead's, when none given


def test_the_secondary_name_is_translated_and_escaped(client, sign_in, factory, make_contact):
    source = factory.source(name="Site")
    make_contact(source, phone=PHONE, name="<b>Nikolai</b>")
    make_contact(source, phone=PHONE, name="Irina")
    sign_in()
    html = page(client.get("/queue", headers={"Accept-Language": "ru"}))
    assert "клиент: &lt;b&gt;Nikolai&lt;/b&gt;" in html
