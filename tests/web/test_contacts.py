"""/contacts list and page, closing, and /my (an operator user's contacts, pause and resume)."""

from __future__ import annotations

import re

import pytest

from crm_web.models import Contact, Operator
from tests.helpers import csrf_from


def page(response) -> str:
    return response.get_data(as_text=True)


def phone(n: int) -> str:
    return f"+7999{n:07d}"


def contact_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td><a href="/contacts/(\d+)">', html)]


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=10)


@pytest.fixture
def boris(factory):
    return factory.operator("Boris", max_load=10)


@pytest.fixture
def web(factory, anna):
    return factory.source(name="Website form", key="website-form", weights={anna: 1})


@pytest.fixture
def calls(factory, boris):
    return factory.source(name="Call centre", key="call-centre", weights={boris: 1})


@pytest.fixture
def nowhere(factory):
    return factory.source(name="No rules", key="no-rules")


def post(client, path: str, data: dict | None = None, token_from: str = "/contacts"):
    token = csrf_from(page(client.get(token_from)))
    return client.post(path, data={"csrf_token": token, **(data or {})})


# --- who may see what ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/contacts", "/contacts/1", "/my"])
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_operator_users_see_the_contact_pages(client, sign_in, make_contact, web):
    contact = make_contact(web, phone=phone(1))
    sign_in("operator")
    assert client.get("/contacts").status_code == 200
    assert client.get(f"/contacts/{contact.id}").status_code == 200


# --- list and filters ---------------------------------------------------------


@pytest.fixture
def mixed(make_contact, web, calls, nowhere, factory):
    """Two of Anna's (website), one of Boris's (calls), one queued, one closed."""
    from crm_web.services.contacts import close_contact

    a1 = make_contact(web, phone=phone(1), name="Ann client")
    a2 = make_contact(web, phone=phone(2))
    b1 = make_contact(calls, phone=phone(3))
    q1 = make_contact(nowhere, phone=phone(4))
    closed = make_contact(calls, phone=phone(5))
    supervisor = factory.staff("supervisor")
    from crm_web.models import User

    with factory.app.app_context():
        from crm_web.core.extensions import db

        user = db.session.get(User, supervisor.user_id)
        close_contact(db.session, closed.id, user)
        db.session.remove()
    return {"a1": a1, "a2": a2, "b1": b1, "q1": q1, "closed": closed}


def test_list_shows_all_contacts_newest_first(client, sign_in, mixed):
    sign_in()
    html = page(client.get("/contacts"))
    ids = [c.id for c in mixed.values()]
    assert contact_ids(html) == sorted(ids, reverse=True)
    assert "Website form" in html and "Anna" in html and "Boris" in html
    assert "5 contacts" in html
    assert '="None"' not in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=unassigned", ["q1"]),
        ("status=assigned", ["a1", "a2", "b1"]),
        ("status=closed", ["closed"]),
        ("source_id={web}", ["a1", "a2"]),
        ("operator_id={boris}", ["b1", "closed"]),
        ("status=assigned&source_id={calls}&operator_id={boris}", ["b1"]),
        ("status=&source_id=&operator_id=", ["a1", "a2", "b1", "q1", "closed"]),
    ],
)
def test_filters(client, sign_in, mixed, web, calls, boris, query, expected):
    sign_in()
    html = page(client.get("/contacts?" + query.format(web=web.id, calls=calls.id, boris=boris.id)))
    assert sorted(contact_ids(html)) == sorted(mixed[name].id for name in expected)


@pytest.mark.parametrize("query", ["status=lost", "source_id=999999", "operator_id=abc"])
def test_invalid_filters_are_422_with_the_error_shown(client, sign_in, mixed, query):
    sign_in()
    response = client.get("/contacts?" + query)
    assert response.status_code == 422
    assert "field-error" in page(response)


def test_filters_stay_in_the_pager_links(client, sign_in, make_contact, web):
    contacts = [make_contact(web, phone=phone(i)) for i in range(55)]
    sign_in()
    first = page(client.get(f"/contacts?source_id={web.id}"))
    assert "Page 1 of 2" in first and len(contact_ids(first)) == 50
    # Next is a keyset link: it starts after the last contact shown (fast however deep).
    last = contact_ids(first)[-1]
    assert f"/contacts?page=2&amp;after={last}&amp;source_id={web.id}" in first
    second = page(client.get(f"/contacts?page=2&after={last}&source_id={web.id}"))
    assert "Page 2 of 2" in second
    assert contact_ids(second) == [c.id for c in contacts[:5]][::-1]
    # An offset page (typed by hand, or Previous) shows the same contacts.
    assert contact_ids(page(client.get(f"/contacts?page=2&source_id={web.id}"))) == contact_ids(second)


def test_empty_list(client, sign_in):
    sign_in()
    assert "No contacts yet." in page(client.get("/contacts"))


# --- one contact --------------------------------------------------------------


def test_contact_page_shows_everything(client, sign_in, make_contact, web, anna):
    contact = make_contact(web, phone="8 999 123-45-67", email="x@example.org", external_id="crm-7",
                           name="Vera", message="First line\n    indented second")
    sign_in()
    html = page(client.get(f"/contacts/{contact.id}"))
    assert f'href="/leads/{contact.lead_id}"' in html
    for text in ("Vera", "+79991234567", "x@example.org", "crm-7", "Website form", "Anna", "assigned"):
        assert text in html
    assert '<p class="message">First line\n    indented second</p>' in html
    assert "Assigned to Anna" not in html  # the result box is only right after intake


def test_missing_contact_is_404(client, sign_in):
    sign_in()
    assert client.get("/contacts/999999").status_code == 404


def test_queued_contact_page_offers_assignment(client, sign_in, make_contact, nowhere, anna):
    contact = make_contact(nowhere, phone=phone(1))
    sign_in()
    html = page(client.get(f"/contacts/{contact.id}"))
    assert f'action="/queue/{contact.id}/assign"' in html and "Anna (0/10)" in html


# --- closing ------------------------------------------------------------------


def test_supervisor_closes_a_contact(client, sign_in, make_contact, web, anna, fetch):
    contact = make_contact(web, phone=phone(1))
    sign_in()
    response = post(client, f"/contacts/{contact.id}/close")
    assert response.status_code == 303 and response.headers["Location"] == f"/contacts/{contact.id}"
    assert fetch(Contact, contact.id).is_active is False
    assert fetch(Operator, anna.id).active_load == 0
    html = page(client.get(response.headers["Location"]))
    assert f"Contact #{contact.id} closed: Done." in html and "closed" in html


def test_closing_twice_says_it_was_already_closed(client, sign_in, make_contact, web):
    contact = make_contact(web, phone=phone(1))
    sign_in()
    post(client, f"/contacts/{contact.id}/close")
    response = post(client, f"/contacts/{contact.id}/close")
    assert response.status_code == 303
    assert "was already closed" in page(client.get(response.headers["Location"]))


def test_operator_user_closes_its_own_contact(client, sign_in, make_contact, web, anna, fetch):
    contact = make_contact(web, phone=phone(1))
    sign_in("operator", operator_id=anna.id)
    assert f'action="/contacts/{contact.id}/close"' in page(client.get(f"/contacts/{contact.id}"))
    response = post(client, f"/contacts/{contact.id}/close", {"next": "/my"})
    assert response.status_code == 303 and response.headers["Location"] == "/my"
    assert fetch(Contact, contact.id).is_active is False


def test_operator_user_may_not_close_someone_elses(client, sign_in, make_contact, calls, nowhere, anna,
                                                   boris, fetch):
    theirs = make_contact(calls, phone=phone(1))
    queued = make_contact(nowhere, phone=phone(2))
    sign_in("operator", operator_id=anna.id)
    assert "/close" not in page(client.get(f"/contacts/{theirs.id}"))
    assert post(client, f"/contacts/{theirs.id}/close").status_code == 403
    assert post(client, f"/contacts/{queued.id}/close").status_code == 403
    assert fetch(Contact, theirs.id).is_active is True
    assert fetch(Contact, queued.id).is_active is True
    assert fetch(Operator, boris.id).active_load == 1


def test_close_without_csrf_token_is_refused(client, sign_in, make_contact, web, fetch):
    contact = make_contact(web, phone=phone(1))
    sign_in()
    assert client.post(f"/contacts/{contact.id}/close").status_code == 400
    assert fetch(Contact, contact.id).is_active is True


def test_close_unknown_contact_is_404(client, sign_in):
    sign_in()
    assert post(client, "/contacts/999999/close").status_code == 404


# --- my contacts, pause and resume --------------------------------------------


def test_my_contacts_lists_only_my_active_ones_with_close(client, sign_in, make_contact, mixed, anna):
    sign_in("operator", operator_id=anna.id)
    html = page(client.get("/my"))
    assert sorted(contact_ids(html)) == sorted([mixed["a1"].id, mixed["a2"].id])
    for mine in (mixed["a1"], mixed["a2"]):  # each row: close it (with an outcome) or add a note
        assert html.count(f'action="/contacts/{mine.id}/close"') == 1
        assert html.count(f'action="/contacts/{mine.id}/notes"') == 1
    assert html.count('action="/contacts/') == 4
    assert html.count('<input type="hidden" name="next" value="/my">') >= 4  # each returns to /my
    assert "You are taking new contacts." in html and "2 / 10" in html


def test_supervisor_without_operator_gets_a_friendly_message(client, sign_in):
    sign_in()
    response = client.get("/my")
    assert response.status_code == 200
    assert "does not work as an operator" in page(response)
    assert post(client, "/my/availability", {"active": "0"}).status_code == 404


def test_pause_and_resume(client, sign_in, anna, fetch):
    sign_in("operator", operator_id=anna.id)
    response = post(client, "/my/availability", {"active": "0"}, token_from="/my")
    assert response.status_code == 303 and response.headers["Location"] == "/my"
    assert fetch(Operator, anna.id).is_active is False
    html = page(client.get("/my"))
    assert "Paused: you receive no new contacts" in html and "Resume taking contacts" in html
    post(client, "/my/availability", {"active": "1"}, token_from="/my")
    assert fetch(Operator, anna.id).is_active is True
    assert "Pause new contacts" in page(client.get("/my"))


def test_a_paused_operator_receives_no_new_contacts(client, sign_in, make_contact, web, anna):
    sign_in("operator", operator_id=anna.id)
    post(client, "/my/availability", {"active": "0"}, token_from="/my")
    assert make_contact(web, phone=phone(1)).operator_id is None


def test_pause_with_a_bad_value_changes_nothing(client, sign_in, anna, fetch):
    sign_in("operator", operator_id=anna.id)
    response = post(client, "/my/availability", {"active": "maybe"}, token_from="/my")
    assert response.status_code == 303
    assert fetch(Operator, anna.id).is_active is True


def test_pause_without_csrf_token_is_refused(client, sign_in, anna, fetch):
    sign_in("operator", operator_id=anna.id)
    assert client.post("/my/availability", data={"active": "0"}).status_code == 400
    assert fetch(Operator, anna.id).is_active is True


# --- escaping and queries -----------------------------------------------------


def test_escapes_lead_name_and_message(client, sign_in, make_contact, web, anna):
    contact = make_contact(web, phone=phone(1), name="<script>alert(1)</script>",
                           message="<script>alert(2)</script>")
    sign_in("operator", operator_id=anna.id)
    for path in ("/contacts", f"/contacts/{contact.id}", f"/contacts/{contact.id}?created=1", "/my"):
        html = page(client.get(path))
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page(client.get(f"/contacts/{contact.id}"))


@pytest.mark.parametrize("path", ["/contacts", "/my"])
def test_same_number_of_queries_for_5_and_50_rows(client, sign_in, factory, make_contact, count_queries,
                                                  path):
    operators = [factory.operator(f"Op {i}", max_load=100) for i in range(5)]
    sources = [factory.source(name=f"Channel {i}", weights={op: 1}) for i, op in enumerate(operators)]
    # /my: the signed-in operator user gets every contact of the first source's operator
    mine = [factory.source(name="Mine", weights={operators[0]: 1})]
    sign_in("operator", operator_id=operators[0].id)
    feed = mine if path == "/my" else sources

    for i in range(5):
        make_contact(feed[i % len(feed)], phone=phone(i), name=f"Lead {i}")
    client.get(path)
    small, response = count_queries(lambda: client.get(path))
    assert len(contact_ids(page(response))) == 5
    for i in range(5, 50):
        make_contact(feed[i % len(feed)], phone=phone(i), name=f"Lead {i}")
    large, response = count_queries(lambda: client.get(path))
    assert len(contact_ids(page(response))) == 50
    assert small == large
