"""/leads search and the lead page (identifiers, contacts in time order, possible duplicates)."""

from __future__ import annotations

import re

import pytest

from crm_web.domain.errors import ValidationError
from crm_web.services.leads import search_leads


def page(response) -> str:
    return response.get_data(as_text=True)


def phone(n: int) -> str:
    return f"+7999{n:07d}"


def lead_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td><a href="/leads/(\d+)">#', html)]


@pytest.fixture
def source(factory):
    return factory.source(name="Website form", key="website-form")


@pytest.fixture
def people(make_contact, source):
    """Three leads with different identifiers; returns lead ids by nickname."""
    return {
        "vera": make_contact(source, phone="+7 999 123-45-67", name="Vera Petrova").lead_id,
        "oleg": make_contact(source, email="Oleg@Example.org", name="Oleg").lead_id,
        "crm": make_contact(source, external_id="CRM-42", name="Petr Verin").lead_id,
    }


@pytest.mark.parametrize("path", ["/leads", "/leads/1"])
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_without_a_query_lists_every_lead_newest_first(client, sign_in, people):
    sign_in("operator")
    html = page(client.get("/leads"))
    assert lead_ids(html) == sorted(people.values(), reverse=True)
    assert "3 leads" in html


@pytest.mark.parametrize(
    "q, expected",
    [
        ("8 (999) 123-45-67", ["vera"]),  # phone, normalised like intake
        ("79991234567", ["vera"]),
        ("  OLEG@example.ORG ", ["oleg"]),  # email, normalised
        ("CRM-42", ["crm"]),  # external id, exact
        ("crm-4", []),  # ... not a part of it
        ("petr", ["vera", "crm"]),  # name, case-insensitive contains
        ("VER", ["vera", "crm"]),
        ("oleg", ["oleg"]),
        ("100%", []),  # LIKE wildcards are literal
        ("_", []),
        ("nobody", []),
    ],
)
def test_one_box_searches_phone_email_external_id_and_name(client, sign_in, people, q, expected):
    sign_in()
    response = client.get("/leads", query_string={"q": q})
    assert response.status_code == 200
    assert sorted(lead_ids(page(response))) == sorted(people[name] for name in expected)


def test_no_match_says_so_and_keeps_the_query(client, sign_in, people):
    sign_in()
    html = page(client.get("/leads?q=nobody"))
    assert "No lead matches" in html and 'value="nobody"' in html


def test_too_long_query_is_422(client, sign_in):
    sign_in()
    response = client.get("/leads", query_string={"q": "x" * 321})
    assert response.status_code == 422
    assert "at most 320 characters" in page(response)


@pytest.mark.parametrize("path", ["/leads?q=a%00b", "/leads/export.csv?q=a%00b"])
def test_a_query_with_nul_is_refused_cleanly(client, sign_in, path):
    sign_in("supervisor")
    response = client.get(path)
    assert 400 <= response.status_code < 500
    assert not response.is_streamed or response.status_code != 200


def test_search_service_directly(app, session, people):
    region = app.config["CRM_PHONE_REGION"]
    assert [lead.id for lead in search_leads(session, "+7 (999) 123 45 67", region, 1, 50).items] == [
        people["vera"]
    ]
    result = search_leads(session, "", region, 1, 2)
    assert result.total == 3 and len(result.items) == 2
    with pytest.raises(ValidationError):
        search_leads(session, "x" * 400, region, 1, 50)


def test_results_are_paginated_and_keep_the_query(client, sign_in, make_contact, source):
    for i in range(55):
        make_contact(source, phone=phone(i), name=f"Same name {i}")
    sign_in()
    first = page(client.get("/leads?q=same"))
    assert len(lead_ids(first)) == 50 and "Page 1 of 2" in first
    assert "/leads?page=2&amp;q=same" in first
    assert len(lead_ids(page(client.get("/leads?q=same&page=2")))) == 5


# --- one lead -----------------------------------------------------------------


def test_lead_page_shows_identifiers_and_contacts_in_time_order(client, sign_in, factory, make_contact,
                                                                source):
    anna = factory.operator("Anna", max_load=5)
    calls = factory.source(name="Call centre", weights={anna: 1})
    first = make_contact(source, phone="+7 999 123-45-67", name="Vera", message="first")
    second = make_contact(calls, phone="89991234567", email="vera@example.org", message="second")
    third = make_contact(source, email="VERA@example.org", external_id="v-1", message="third")
    assert first.lead_id == second.lead_id == third.lead_id
    sign_in()
    html = page(client.get(f"/leads/{first.lead_id}"))
    for text in ("Vera", "+79991234567", "vera@example.org", "v-1", "Website form", "Call centre", "Anna"):
        assert text in html
    order = [int(n) for n in re.findall(r'<td><a href="/contacts/(\d+)">', html)]
    assert order == [first.id, second.id, third.id]
    assert re.findall(r'class="hide-sm excerpt">(\w+)<', html) == ["first", "second", "third"]
    assert "None known." in html


def test_possible_duplicates_are_linked_both_ways(client, sign_in, make_contact, source):
    by_phone = make_contact(source, phone="+7 999 123-45-67", name="By phone")
    by_email = make_contact(source, email="same@example.org", name="By email")
    # One request naming both: it goes to the phone's lead, the other is a possible duplicate.
    both = make_contact(source, phone="+7 999 123-45-67", email="same@example.org")
    assert both.lead_id == by_phone.lead_id
    sign_in()
    html = page(client.get(f"/leads/{by_phone.lead_id}"))
    assert f'href="/leads/{by_email.lead_id}">By email</a>' in html
    html = page(client.get(f"/leads/{by_email.lead_id}"))
    assert f'href="/leads/{by_phone.lead_id}">By phone</a>' in html


def test_missing_lead_is_404(client, sign_in):
    sign_in()
    assert client.get("/leads/999999").status_code == 404


def test_escapes_lead_name_and_message(client, sign_in, make_contact, source):
    contact = make_contact(source, phone=phone(1), name="<script>alert(1)</script>",
                           message="<script>alert(2)</script>")
    sign_in()
    for path in ("/leads", "/leads?q=script", f"/leads/{contact.lead_id}"):
        html = page(client.get(path))
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page(client.get(f"/leads/{contact.lead_id}"))


def test_same_number_of_queries_for_5_and_50_rows(client, sign_in, factory, make_contact, count_queries):
    sources = [factory.source(name=f"Channel {i}") for i in range(5)]
    sign_in()
    for i in range(5):
        make_contact(sources[i % 5], phone=phone(i), name=f"Lead {i}")
    client.get("/leads")
    small, response = count_queries(lambda: client.get("/leads"))
    small_search, _ = count_queries(lambda: client.get("/leads?q=lead"))
    assert len(lead_ids(page(response))) == 5
    for i in range(5, 50):
        make_contact(sources[i % 5], phone=phone(i), name=f"Lead {i}")
    large, response = count_queries(lambda: client.get("/leads"))
    large_search, _ = count_queries(lambda: client.get("/leads?q=lead"))
    assert len(lead_ids(page(response))) == 50
    assert (small, small_search) == (large, large_search)


def test_lead_page_queries_do_not_grow_with_its_contacts(client, sign_in, factory, make_contact,
                                                         count_queries):
    operators = [factory.operator(f"Op {i}", max_load=100) for i in range(5)]
    sources = [factory.source(name=f"Channel {i}", weights={op: 1}) for i, op in enumerate(operators)]
    lead_id = make_contact(sources[0], phone=phone(1)).lead_id
    for i in range(1, 5):
        make_contact(sources[i], phone=phone(1))
    sign_in()
    client.get(f"/leads/{lead_id}")
    small, _ = count_queries(lambda: client.get(f"/leads/{lead_id}"))
    for i in range(45):
        make_contact(sources[i % 5], phone=phone(1))
    large, response = count_queries(lambda: client.get(f"/leads/{lead_id}"))
    assert len(re.findall(r'<td><a href="/contacts/', page(response))) == 50
    assert small == large

