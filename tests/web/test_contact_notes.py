"""Outcomes and notes on the pages (contract §3, §5): closing from the contact page and /my with an
outcome and a note in one step, adding notes, spam's offer to close the client's other contacts from
the same source, the outcome in lists and its filter, the audit trail."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from crm_web.core.extensions import db
from crm_web.models import AuditEvent, Contact, ContactNote, Operator
from tests.helpers import csrf_from

SCRIPT = "<script>alert(1)</script>"


def page(response) -> str:
    return response.get_data(as_text=True)


def phone(n: int) -> str:
    return f"+7999{n:07d}"


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=10)


@pytest.fixture
def boris(factory):
    return factory.operator("Boris", max_load=10)


@pytest.fixture
def web(factory, anna):
    return factory.source(name="Website form", key="website-form", weights={anna: 1})


def post(client, path: str, data: dict | None = None, token_from: str = "/contacts"):
    token = csrf_from(page(client.get(token_from)))
    return client.post(path, data={"csrf_token": token, **(data or {})})


def notes_of(app, contact_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(ContactNote.author, ContactNote.text)
            .where(ContactNote.contact_id == contact_id)
            .order_by(ContactNote.id)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def actions(app) -> list[tuple[str, int, dict]]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.action, AuditEvent.subject_id, AuditEvent.details)
            .where(AuditEvent.action.in_(("contact.closed", "contact.note_added")))
            .order_by(AuditEvent.id)
        ).all()
        db.session.remove()
    return [(action, subject, json.loads(details)) for action, subject, details in rows]


def loads_are_exact(app) -> bool:
    with app.app_context():
        counted = dict(db.session.execute(
            select(Contact.operator_id, func.count())
            .where(Contact.is_active.is_(True), Contact.operator_id.is_not(None))
            .group_by(Contact.operator_id)
        ).all())
        kept = dict(db.session.execute(select(Operator.id, Operator.active_load)).all())
        db.session.remove()
    return all(load == counted.get(op, 0) for op, load in kept.items())


# --- closing with an outcome and a note ----------------------------------------------------------


def test_the_contact_page_asks_for_the_outcome_done_first_and_an_optional_note(
    client, sign_in, make_contact, web
):
    contact = make_contact(web, phone=phone(1))
    sign_in()
    html = page(client.get(f"/contacts/{contact.id}"))
    form = re.search(rf'<form method="post" action="/contacts/{contact.id}/close".*?</form>', html, re.S)
    form = form.group(0)
    assert re.findall(r'name="outcome" value="(\w+)"', form) == ["done", "no_answer", "spam", "duplicate"]
    assert re.search(r'value="done" checked', form)
    assert 'name="note"' in form and 'maxlength="5000"' in form and 'name="csrf_token"' in form
    for label in ("Outcome", "Done", "No answer", "Spam", "Duplicate"):
        assert label in form


def test_a_supervisor_closes_from_the_contact_page_with_an_outcome_and_a_note(
    app, client, sign_in, make_contact, web, anna, fetch
):
    contact = make_contact(web, phone=phone(1))
    staff = sign_in()
    response = post(client, f"/contacts/{contact.id}/close",
                    {"outcome": "no_answer", "note": "Called twice,\r\nno answer."})
    assert response.status_code == 303 and response.headers["Location"] == f"/contacts/{contact.id}"
    closed = fetch(Contact, contact.id)
    assert (closed.is_active, closed.outcome) == (False, "no_answer")
    assert fetch(Operator, anna.id).active_load == 0
    assert notes_of(app, contact.id) == [(staff.email, "Called twice,\nno answer.")]
    html = page(client.get(response.headers["Location"]))
    assert f"Contact #{contact.id} closed: No answer." in html
    assert "No answer</span>" in html  # the outcome beside the status
    assert "Called twice,\nno answer." in html and staff.email in html
    done = [(action, subject) for action, subject, _ in actions(app)]
    assert done == [("contact.closed", contact.id), ("contact.note_added", contact.id)]
    assert actions(app)[0][2]["outcome"] == "no_answer"


def test_closing_without_choosing_is_done_and_a_blank_note_is_no_note(app, client, sign_in, make_contact, web,
                                                                       fetch):
    contact = make_contact(web, phone=phone(1))
    sign_in()
    assert post(client, f"/contacts/{contact.id}/close", {"note": "  \r\n "}).status_code == 303
    assert fetch(Contact, contact.id).outcome == "done"
    assert notes_of(app, contact.id) == []


@pytest.mark.parametrize(
    ("data", "error"),
    [({"outcome": "won"}, "Choose one of: done, no_answer, spam, duplicate."),
     ({"outcome": "spam", "note": "x" * 5001}, "At most 5000 characters (this one has 5001).")],
)
def test_an_invalid_outcome_or_note_shows_the_error_and_writes_nothing(
    app, client, sign_in, make_contact, web, anna, factory, fetch, data, error
):
    contact = make_contact(web, phone=phone(1))
    sign_in()
    before = factory.counts()
    response = post(client, f"/contacts/{contact.id}/close", data)
    assert response.status_code == 422
    html = page(response)
    assert error in html and 'class="field-error"' in html
    if "note" in data:
        assert data["note"] in html  # the text comes back, not lost
    assert factory.counts() == before
    assert fetch(Contact, contact.id).is_active is True
    assert fetch(Operator, anna.id).active_load == 1


def test_an_operator_user_closes_from_my_contacts_with_an_outcome_and_a_note(
    app, client, sign_in, make_contact, web, anna, fetch
):
    contact = make_contact(web, phone=phone(1))
    staff = sign_in("operator", operator_id=anna.id)
    html = page(client.get("/my"))
    assert f'action="/contacts/{contact.id}/close"' in html and 'id="my-close-note-' in html
    response = post(client, f"/contacts/{contact.id}/close",
                    {"outcome": "duplicate", "note": "Same as yesterday's.", "next": "/my"}, token_from="/my")
    assert response.status_code == 303 and response.headers["Location"] == "/my"
    assert fetch(Contact, contact.id).outcome == "duplicate"
    assert notes_of(app, contact.id) == [(staff.email, "Same as yesterday's.")]
    assert fetch(Operator, anna.id).active_load == 0
    html = page(client.get("/my"))
    assert f"Contact #{contact.id} closed: Duplicate." in html and "You have no open contacts." in html


def test_an_operator_user_still_may_not_close_someone_elses(client, sign_in, make_contact, web, boris, fetch):
    contact = make_contact(web, phone=phone(1))  # Anna's
    sign_in("operator", operator_id=boris.id)
    response = post(client, f"/contacts/{contact.id}/close", {"outcome": "spam", "note": "not mine"})
    assert response.status_code == 403
    assert fetch(Contact, contact.id).is_active is True


# --- notes ---------------------------------------------------------------------------------------


def test_a_note_added_on_the_contact_page_shows_with_author_and_time(app, client, sign_in, make_contact, web):
    contact = make_contact(web, phone=phone(1))
    staff = sign_in()
    assert "No notes yet." in page(client.get(f"/contacts/{contact.id}"))
    response = post(client, f"/contacts/{contact.id}/notes", {"text": "  Prefers WhatsApp.  "})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/contacts/{contact.id}#notes"
    assert notes_of(app, contact.id) == [(staff.email, "Prefers WhatsApp.")]
    html = page(client.get(f"/contacts/{contact.id}"))
    assert f"Note added to contact #{contact.id}." in html
    note = re.search(r'<ol class="notes">.*?</ol>', html, re.S).group(0)
    assert staff.email in note and "Prefers WhatsApp." in note and "<time datetime=" in note
    assert "Note added" in html.split('id="history"')[1]  # in the contact's history too


def test_a_script_note_is_shown_escaped(client, sign_in, make_contact, web, anna):
    contact = make_contact(web, phone=phone(1))
    sign_in("operator", operator_id=anna.id)
    post(client, f"/contacts/{contact.id}/notes", {"text": SCRIPT})
    for path in (f"/contacts/{contact.id}", "/my"):
        html = page(client.get(path))
        assert SCRIPT not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


@pytest.mark.parametrize(("text", "error"), [("", "The note is empty."), (" \r\n ", "The note is empty."),
                                             ("x" * 5001, "At most 5000 characters (this one has 5001).")])
def test_an_empty_or_too_long_note_shows_the_error_and_writes_nothing(
    client, sign_in, make_contact, web, factory, text, error
):
    contact = make_contact(web, phone=phone(1))
    sign_in()
    before = factory.counts()
    response = post(client, f"/contacts/{contact.id}/notes", {"text": text, "next": "/my"})
    assert response.status_code == 422
    html = page(response)
    assert error in html and 'aria-invalid="true"' in html
    assert factory.counts() == before


def test_a_note_of_5000_characters_with_line_breaks_is_taken(app, client, sign_in, make_contact, web):
    """Browsers send a textarea's line ends as CRLF; each counts as one character, as the field shows."""
    contact = make_contact(web, phone=phone(1))
    sign_in()
    text = ("x" * 99 + "\r\n") * 50  # 5,000 characters as typed, 5,050 as sent
    assert post(client, f"/contacts/{contact.id}/notes", {"text": text}).status_code == 303
    assert len(notes_of(app, contact.id)[0][1]) == 4999  # trimmed: the last line end


def test_any_staff_user_may_note_any_contact_but_not_without_a_csrf_token(
    app, client, sign_in, make_contact, web, boris, factory
):
    contact = make_contact(web, phone=phone(1))  # Anna's
    staff = sign_in("operator", operator_id=boris.id)
    assert post(client, f"/contacts/{contact.id}/notes", {"text": "Boris was here"}).status_code == 303
    assert notes_of(app, contact.id) == [(staff.email, "Boris was here")]
    before = factory.counts()
    assert client.post(f"/contacts/{contact.id}/notes", data={"text": "no token"}).status_code == 400
    assert post(client, "/contacts/999999/notes", {"text": "nobody"}).status_code == 404
    assert factory.counts() == before


def test_my_contacts_shows_the_latest_notes_and_adds_one_without_script(
    app, client, sign_in, make_contact, web, anna
):
    contact = make_contact(web, phone=phone(1))
    sign_in("operator", operator_id=anna.id)
    html = page(client.get("/my"))
    assert f'action="/contacts/{contact.id}/notes"' in html and "<details" in html
    for i in range(4):
        response = post(client, f"/contacts/{contact.id}/notes", {"text": f"Call {i}", "next": "/my"},
                        token_from="/my")
        assert response.status_code == 303 and response.headers["Location"] == "/my"
    html = page(client.get("/my"))
    assert "Call 0" not in html and all(f"Call {i}" in html for i in (1, 2, 3))  # the latest three
    assert html.index("Call 1") < html.index("Call 3")  # oldest first
    assert f'href="/contacts/{contact.id}#notes">All 4 notes' in html


# --- spam: the client's other open contacts from the same source ----------------------------------


def test_closing_as_spam_offers_to_close_the_others_from_the_same_source(
    app, client, sign_in, make_contact, web, factory, anna, boris, fetch
):
    from crm_web.services.sources import replace_distribution

    first = make_contact(web, phone=phone(1))
    second = make_contact(web, phone=phone(1))  # the same client, the same source
    factory._call(replace_distribution, web.id, {boris.id: "1"})
    boris_own = make_contact(web, phone=phone(1))  # Boris's
    other_source = make_contact(factory.source(name="Calls", weights={anna: 1}), phone=phone(1))
    other_client = make_contact(web, phone=phone(2))
    sign_in("operator", operator_id=anna.id)
    spam = {"outcome": "spam", "next": "/my"}
    response = post(client, f"/contacts/{first.id}/close", spam, token_from="/my")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/contacts/{first.id}?next=/my"  # the offer is there
    html = page(client.get(response.headers["Location"]))
    # An operator user is offered only the contacts it holds.
    assert "Also close 1 other open contact of this client from Website form as spam?" in html
    assert f'action="/contacts/{first.id}/close-same-source"' in html
    response = post(client, f"/contacts/{first.id}/close-same-source", {"next": "/my"}, token_from="/my")
    assert response.status_code == 303 and response.headers["Location"] == "/my"
    assert "1 more contact closed as spam." in page(client.get("/my"))
    assert fetch(Contact, second.id).outcome == "spam"
    for untouched in (boris_own, other_source, other_client):
        assert fetch(Contact, untouched.id).is_active is True
    assert loads_are_exact(app)
    assert fetch(Operator, anna.id).active_load == 1  # other_source's contact
    closed = [(s, d) for a, s, d in actions(app) if a == "contact.closed"]
    assert closed == [
        (first.id, {"operator_id": anna.id, "operator_name": "Anna", "outcome": "spam"}),
        (second.id, {"operator_id": anna.id, "operator_name": "Anna", "outcome": "spam",
                     "same_source_as": first.id}),
    ]
    assert "Also close" not in page(client.get(f"/contacts/{first.id}"))  # nothing left to offer


def test_a_supervisor_closes_every_other_open_contact_of_the_client_from_the_source(
    app, client, sign_in, make_contact, web, factory, anna, boris, fetch
):
    from crm_web.services.sources import replace_distribution

    first = make_contact(web, phone=phone(1))
    factory._call(replace_distribution, web.id, {boris.id: "1"})
    others = [make_contact(web, phone=phone(1)) for _ in range(2)]
    queue_only = factory.source(name="Queue")
    sign_in()
    post(client, f"/contacts/{first.id}/close", {"outcome": "spam"})
    html = page(client.get(f"/contacts/{first.id}"))
    assert "Also close 2 other open contacts of this client from Website form as spam?" in html
    post(client, f"/contacts/{first.id}/close-same-source")
    assert all(fetch(Contact, c.id).outcome == "spam" for c in others)
    assert (fetch(Operator, anna.id).active_load, fetch(Operator, boris.id).active_load) == (0, 0)
    assert loads_are_exact(app)
    queued = make_contact(queue_only, phone=phone(3))
    response = post(client, f"/contacts/{queued.id}/close-same-source")  # not closed as spam
    assert response.status_code == 303
    assert "was not closed as spam" in page(client.get(response.headers["Location"]))
    assert fetch(Contact, queued.id).is_active is True


def test_closing_as_spam_with_no_others_goes_back_where_it_came_from(client, sign_in, make_contact, web,
                                                                     anna):
    contact = make_contact(web, phone=phone(1))
    sign_in("operator", operator_id=anna.id)
    spam = {"outcome": "spam", "next": "/my"}
    response = post(client, f"/contacts/{contact.id}/close", spam, token_from="/my")
    assert response.headers["Location"] == "/my"


# --- the outcome in lists, its filter, and the audit trail ----------------------------------------


def test_the_contacts_list_shows_and_filters_by_outcome(client, sign_in, make_contact, web, factory):
    spam = make_contact(web, phone=phone(1))
    done = make_contact(web, phone=phone(2))
    still_open = make_contact(web, phone=phone(3))
    sign_in()
    post(client, f"/contacts/{spam.id}/close", {"outcome": "spam"})
    post(client, f"/contacts/{done.id}/close", {"outcome": "done"})
    html = page(client.get("/contacts"))
    assert 'class="status outcome outcome-spam"' in html and 'class="status outcome outcome-done"' in html
    assert re.search(r'<select[^>]*name="outcome"', html)  # the filter

    def listed(query: str) -> list[int]:
        html = page(client.get(f"/contacts?{query}"))
        return [int(n) for n in re.findall(r'<td><a href="/contacts/(\d+)">', html)]

    assert listed("outcome=spam") == [spam.id]
    assert listed("outcome=done") == [done.id]
    assert listed("outcome=") == [still_open.id, done.id, spam.id]
    response = client.get("/contacts?outcome=won")
    assert response.status_code == 422 and "field-error" in page(response)
    export = client.get("/contacts/export.csv?outcome=spam").get_data(as_text=True)
    assert len(export.strip().splitlines()) == 2  # the header and the spam contact


def test_the_audit_trail_names_outcomes_and_notes(client, sign_in, make_contact, web):
    contact = make_contact(web, phone=phone(1))
    sign_in()
    post(client, f"/contacts/{contact.id}/close", {"outcome": "no_answer", "note": "Voicemail only."})
    html = page(client.get(f"/audit?subject_type=contact&subject_id={contact.id}"))
    assert "Closed: No answer" in html and "Note added" in html and "Voicemail only." in html
    history = page(client.get(f"/contacts/{contact.id}")).split('id="history"')[1]
    assert "Closed: No answer" in history and "Voicemail only." in history


def test_outcomes_and_notes_in_russian(client, sign_in, make_contact, web):
    contact = make_contact(web, phone=phone(1))
    sign_in()
    post(client, f"/contacts/{contact.id}/close", {"outcome": "no_answer", "note": "Не берёт трубку."})
    html = page(client.get(f"/contacts/{contact.id}", headers={"Accept-Language": "ru-RU,ru;q=0.9"}))
    for text in ("Итог", "Не дозвонились", "Заметки к обращению", "1 заметка", "Добавить заметку",
                 "Не берёт трубку."):
        assert text in html, text
