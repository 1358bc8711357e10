"""/queue: unassigned contacts, inline assignment (htmx and plain POST), races, polling."""

from __future__ import annotations

import re

import pytest

from crm_web.models import Contact, Operator
from tests.helpers import csrf_from

HX = {"HX-Request": "true"}


def page(response) -> str:
    return response.get_data(as_text=True)


def phone(n: int) -> str:
    return f"+7999{n:07d}"


@pytest.fixture
def queue_source(factory):
    """A source without rules: everything it receives waits in the queue."""
    return factory.source(name="Call centre", key="call-centre")


@pytest.fixture
def queued(make_contact, queue_source):
    return [make_contact(queue_source, phone=phone(i), name=f"Client {i}") for i in range(3)]


def assign(client, contact_id: int, operator_id, htmx: bool = False, **extra):
    token = csrf_from(page(client.get("/queue")))
    data = {"csrf_token": token, **extra}
    if operator_id is not None:
        data["operator_id"] = operator_id
    return client.post(f"/queue/{contact_id}/assign", data=data, headers=HX if htmx else {})


def row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="queue-row-(\d+)"', html)]


# --- who may see what ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/queue", "/my"])
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- the list -----------------------------------------------------------------


def test_lists_unassigned_contacts_oldest_first(client, sign_in, factory, make_contact, queued):
    anna = factory.operator("Anna", max_load=3)
    assigned = make_contact(factory.source(weights={anna: 1}), phone=phone(99))
    sign_in()
    html = page(client.get("/queue"))
    assert row_ids(html) == [c.id for c in queued]
    assert assigned.id not in row_ids(html)
    assert "Client 0" in html and "+79990000000" in html and "Call centre" in html
    assert "3 contacts waiting" in html


def test_offers_only_available_operators_with_their_load(client, sign_in, factory, make_contact, queued):
    factory.operator("Anna", max_load=3)
    full = factory.operator("Boris", max_load=1)
    make_contact(factory.source(weights={full: 1}), phone=phone(50))
    factory.operator("Clara", max_load=5, is_active=False)
    sign_in()
    html = page(client.get("/queue"))
    assert "Anna (0/3)" in html
    assert "Boris" not in html  # full
    assert "Clara" not in html  # paused


def test_message_excerpt_waiting_time_and_lead_link(client, sign_in, make_contact, queue_source):
    contact = make_contact(queue_source, email="Someone@Example.org", message="word " * 100)
    sign_in()
    html = page(client.get("/queue"))
    assert "someone@example.org" in html
    assert f'href="/leads/{contact.lead_id}"' in html
    assert "word word" in html and ("word " * 30) not in html  # an excerpt, not the whole message
    assert "seconds" in html or "second" in html


def test_the_queue_is_paginated_fifty_a_page(client, sign_in, make_contact, queue_source):
    contacts = [make_contact(queue_source, phone=phone(i)) for i in range(51)]
    sign_in()
    first = page(client.get("/queue"))
    assert len(row_ids(first)) == 50 and "Page 1 of 2" in first
    second = page(client.get("/queue?page=2"))
    assert row_ids(second) == [contacts[-1].id]
    # A page that emptied meanwhile shows the last one rather than nothing.
    assert row_ids(page(client.get("/queue?page=9"))) == [contacts[-1].id]


def test_empty_queue_says_so(client, sign_in):
    sign_in()
    assert "The queue is empty" in page(client.get("/queue"))


def test_a_live_refresh_gets_only_the_fragment_with_the_badge(client, sign_in, queued):
    sign_in()
    full = client.get("/queue")
    assert "<html" in page(full) and 'hx-trigger="live-queue from:body, live-retry"' in page(full)
    assert "HX-Request" in full.headers.get("Vary", "")
    fragment = client.get("/queue", headers=HX)
    html = page(fragment)
    assert "<html" not in html and "<nav" not in html
    assert html.lstrip().startswith("{#") is False and 'id="queue-rows"' in html
    assert 'id="queue-badge" hx-swap-oob="true"' in html and ">3</span>" in html
    assert "HX-Request" in fragment.headers.get("Vary", "")
    # htmx restoring history asks for the whole page.
    restore = client.get("/queue", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in page(restore)


# --- assigning ----------------------------------------------------------------


def test_plain_post_assigns_flashes_and_redirects_back(client, sign_in, factory, queued, fetch):
    anna = factory.operator("Anna", max_load=3)
    sign_in()
    response = assign(client, queued[0].id, anna.id, page="1")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/queue")
    assert fetch(Contact, queued[0].id).operator_id == anna.id
    assert fetch(Operator, anna.id).active_load == 1
    html = page(client.get(response.headers["Location"]))
    assert f"Contact #{queued[0].id} assigned to Anna." in html
    assert queued[0].id not in row_ids(html)


def test_htmx_assign_returns_the_fragment_with_message_and_new_badge(client, sign_in, factory, queued, fetch):
    anna = factory.operator("Anna", max_load=3)
    sign_in()
    response = assign(client, queued[1].id, anna.id, htmx=True, page="1")
    assert response.status_code == 200
    html = page(response)
    assert "<html" not in html
    assert row_ids(html) == [queued[0].id, queued[2].id]
    assert f"Contact #{queued[1].id} assigned to Anna." in html
    assert 'id="queue-message" aria-live="polite" hx-swap-oob="true"' in html
    assert re.search(r'id="queue-badge" hx-swap-oob="true"[^>]*>2</span>', html)
    assert fetch(Contact, queued[1].id).operator_id == anna.id


def test_assign_on_the_contact_page_goes_back_there(client, sign_in, factory, queued):
    anna = factory.operator("Anna", max_load=3)
    sign_in()
    back = f"/contacts/{queued[0].id}"
    response = assign(client, queued[0].id, anna.id, next=back)
    assert response.status_code == 303 and response.headers["Location"] == back
    # Never to another site.
    response = assign(client, queued[1].id, anna.id, next="//evil.example/x")
    assert response.headers["Location"].startswith("/queue")


@pytest.mark.parametrize("htmx", [False, True])
def test_a_contact_taken_meanwhile_is_not_assigned_twice(client, sign_in, factory, queued, fetch, htmx):
    anna = factory.operator("Anna", max_load=3)
    boris = factory.operator("Boris", max_load=3)
    sign_in()
    assert assign(client, queued[0].id, anna.id).status_code == 303
    response = assign(client, queued[0].id, boris.id, htmx=htmx)
    if htmx:
        html = page(response)
    else:
        assert response.status_code == 303
        html = page(client.get(response.headers["Location"]))
    assert "already taken or closed by someone else; nothing changed" in html
    assert fetch(Contact, queued[0].id).operator_id == anna.id
    assert fetch(Operator, anna.id).active_load == 1
    assert fetch(Operator, boris.id).active_load == 0


@pytest.mark.parametrize("htmx", [False, True])
def test_an_operator_that_filled_up_meanwhile_gets_nothing(client, sign_in, factory, make_contact, queued,
                                                           fetch, htmx):
    boris = factory.operator("Boris", max_load=1)
    make_contact(factory.source(weights={boris: 1}), phone=phone(77))  # fills Boris
    sign_in()
    response = assign(client, queued[0].id, boris.id, htmx=htmx)
    html = page(response) if htmx else page(client.get(response.headers["Location"]))
    assert "Boris has no free capacity any more" in html
    assert fetch(Contact, queued[0].id).operator_id is None
    assert fetch(Operator, boris.id).active_load == 1


def test_a_paused_operator_gets_nothing(client, sign_in, factory, queued, fetch):
    clara = factory.operator("Clara", max_load=3, is_active=False)
    sign_in()
    html = page(assign(client, queued[0].id, clara.id, htmx=True))
    assert "Clara is paused" in html
    assert fetch(Contact, queued[0].id).operator_id is None


def test_a_deleted_operator_gets_nothing(client, sign_in, factory, queued, fetch):
    from crm_web.services.operators import delete_operator

    gone = factory.operator("Gone", max_load=3)
    factory._call(delete_operator, gone.id)
    sign_in()
    html = page(assign(client, queued[0].id, gone.id, htmx=True))
    assert "That operator no longer exists" in html
    assert fetch(Contact, queued[0].id).operator_id is None


def test_no_operator_chosen(client, sign_in, queued, fetch):
    sign_in()
    html = page(assign(client, queued[0].id, None, htmx=True))
    assert "Choose an operator." in html
    assert fetch(Contact, queued[0].id).operator_id is None


def test_unknown_contact_is_404(client, sign_in, factory):
    anna = factory.operator("Anna", max_load=3)
    sign_in()
    assert assign(client, 999_999, anna.id).status_code == 404


def test_post_without_csrf_token_is_refused_and_changes_nothing(client, sign_in, factory, queued, fetch):
    anna = factory.operator("Anna", max_load=3)
    sign_in()
    for headers in ({}, HX):
        response = client.post(
            f"/queue/{queued[0].id}/assign", data={"operator_id": anna.id}, headers=headers
        )
        assert response.status_code == 400
    assert fetch(Contact, queued[0].id).operator_id is None
    assert fetch(Operator, anna.id).active_load == 0


# --- operator users -----------------------------------------------------------


def test_an_operator_user_sees_take_and_no_operator_list(client, sign_in, factory, queued):
    anna = factory.operator("Anna", max_load=3)
    factory.operator("Boris", max_load=3)
    sign_in("operator", operator_id=anna.id)
    html = page(client.get("/queue"))
    assert ">Take</button>" in html
    assert f'name="operator_id" value="{anna.id}"' in html
    assert "Boris" not in html and "<select" not in html


@pytest.mark.parametrize("htmx", [False, True])
def test_an_operator_user_who_takes_a_contact_lands_on_it(client, sign_in, factory, queued, fetch, htmx):
    anna = factory.operator("Anna", max_load=3)
    sign_in("operator", operator_id=anna.id)
    response = assign(client, queued[0].id, anna.id, htmx=htmx, page="1")
    target = f"/contacts/{queued[0].id}"
    if htmx:  # htmx navigates the whole page there
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == target
    else:
        assert response.status_code == 303
        assert response.headers["Location"] == target
    assert fetch(Contact, queued[0].id).operator_id == anna.id
    html = page(client.get(target))
    assert f"You took contact #{queued[0].id}." in html
    # ... and finds it among its own contacts.
    assert f'href="{target}"' in page(client.get("/my"))


def test_a_take_that_fails_keeps_the_operator_user_on_the_queue(client, sign_in, factory, queued):
    anna = factory.operator("Anna", max_load=3)
    sign_in("operator", operator_id=anna.id)
    assert assign(client, queued[0].id, anna.id).status_code == 303
    response = assign(client, queued[0].id, anna.id, htmx=True)  # no longer in the queue
    assert response.status_code == 200 and "HX-Redirect" not in response.headers
    html = page(response)
    assert "already taken or closed by someone else" in html
    assert 'id="queue-rows"' in html


def test_an_operator_user_may_not_assign_to_someone_else(client, sign_in, factory, queued, fetch):
    anna = factory.operator("Anna", max_load=3)
    boris = factory.operator("Boris", max_load=3)
    sign_in("operator", operator_id=anna.id)
    assert assign(client, queued[0].id, boris.id).status_code == 403
    assert fetch(Contact, queued[0].id).operator_id is None


def test_a_full_or_paused_operator_user_is_told_why_there_is_no_take(client, sign_in, factory, make_contact,
                                                                    queued):
    anna = factory.operator("Anna", max_load=1)
    make_contact(factory.source(weights={anna: 1}), phone=phone(42))
    sign_in("operator", operator_id=anna.id)
    html = page(client.get("/queue"))
    assert ">Take</button>" not in html and "maximum of 1 active contact; close it" in html


def test_escapes_lead_name_and_message(client, sign_in, make_contact, queue_source):
    make_contact(queue_source, phone=phone(1), name="<script>alert(1)</script>",
                 message="<script>alert(2)</script>")
    sign_in()
    for response in (client.get("/queue"), client.get("/queue", headers=HX)):
        html = page(response)
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html


def test_same_number_of_queries_for_5_and_50_rows(client, sign_in, factory, make_contact, count_queries):
    sources = [factory.source(name=f"Channel {i}") for i in range(5)]
    for i in range(3):
        factory.operator(f"Op {i}", max_load=5)
    sign_in()
    for i in range(5):
        make_contact(sources[i % 5], phone=phone(i), name=f"Lead {i}")
    client.get("/queue")  # warm up (first-request work is not per row)
    small, response = count_queries(lambda: client.get("/queue"))
    assert len(row_ids(page(response))) == 5
    small_htmx, _ = count_queries(lambda: client.get("/queue", headers=HX))
    for i in range(5, 50):
        make_contact(sources[i % 5], phone=phone(i), name=f"Lead {i}")
    large, response = count_queries(lambda: client.get("/queue"))
    assert len(row_ids(page(response))) == 50
    large_htmx, _ = count_queries(lambda: client.get("/queue", headers=HX))
    assert small == large
    assert small_htmx == large_htmx
