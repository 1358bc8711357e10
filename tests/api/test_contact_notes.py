"""/api/v1/contacts: closing with an outcome and a note, notes, the outcome filter (contract §3)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from crm_web.core.extensions import db
from crm_web.models import AuditEvent, Contact, Operator
from tests.helpers import assert_error

from .helpers import Api, as_json, assert_page, intake

NOTE_FIELDS = {"id", "text", "author", "created_at"}


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=10)


@pytest.fixture
def boris(factory):
    return factory.operator("Boris", max_load=10)


@pytest.fixture
def site(factory, anna):
    return factory.source("Site", key="site", weights={anna: 1})


def open_contact(api, source_id: int, **fields) -> int:
    return intake(api, source_id, **({"phone": "+79991234567"} | fields))["contact"]["id"]


def close(api, contact_id: int, body: dict | None = None):
    return api.post(f"/contacts/{contact_id}/close", body)


def notes(api, contact_id: int, query: str = "") -> dict:
    return as_json(api.get(f"/contacts/{contact_id}/notes{query}"))


def audit_rows(app, action: str) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.subject_id, AuditEvent.actor_label, AuditEvent.details)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        ).all()
        db.session.remove()
    return [{"subject_id": s, "actor": a, "details": json.loads(d or "{}")} for s, a, d in rows]


def true_loads(app) -> dict[int, tuple[int, int]]:
    """Each operator's kept load beside the count of its active contacts."""
    with app.app_context():
        counted = dict(db.session.execute(
            select(Contact.operator_id, func.count())
            .where(Contact.is_active.is_(True))
            .group_by(Contact.operator_id)
        ).all())
        kept = dict(db.session.execute(select(Operator.id, Operator.active_load)).all())
        db.session.remove()
    return {op: (load, counted.get(op, 0)) for op, load in kept.items()}


# --- reading the outcome ---------------------------------------------------------------------------


def test_an_open_contact_reads_with_a_null_outcome_everywhere(api, site, factory):
    body = intake(api, site.id, phone="+79991234567")
    assert body["contact"]["outcome"] is None  # the intake's answer
    contact_id = body["contact"]["id"]
    assert as_json(api.get(f"/contacts/{contact_id}"))["outcome"] is None
    assert [c["outcome"] for c in as_json(api.get("/contacts"))["items"]] == [None]
    assert [c["outcome"] for c in as_json(api.get(f"/leads/{body['lead']['id']}"))["contacts"]] == [None]
    queued = intake(api, factory.source("Queue").id, email="q@example.com")
    assert queued["contact"]["outcome"] is None and queued["operator_available"] is False


def test_closing_without_a_body_is_done(api, site, anna, app):
    contact_id = open_contact(api, site.id)
    body = as_json(close(api, contact_id))
    assert (body["status"], body["outcome"]) == ("closed", "done")
    assert "also_closed" not in body  # the answer is the contact object, as every read of it
    assert as_json(api.get(f"/contacts/{contact_id}")) == body
    assert notes(api, contact_id)["items"] == []
    assert true_loads(app)[anna.id] == (0, 0)


@pytest.mark.parametrize("outcome", ["done", "no_answer", "spam", "duplicate"])
def test_each_outcome_is_kept_and_read_back(api, site, outcome):
    contact_id = open_contact(api, site.id)
    assert as_json(close(api, contact_id, {"outcome": outcome}))["outcome"] == outcome
    assert as_json(api.get(f"/contacts/{contact_id}"))["outcome"] == outcome
    listed = as_json(api.get("/contacts?status=closed"))["items"]
    assert [(c["id"], c["outcome"]) for c in listed] == [(contact_id, outcome)]


def test_a_null_outcome_is_the_default(api, site):
    contact_id = open_contact(api, site.id)
    assert as_json(close(api, contact_id, {"outcome": None, "note": None}))["outcome"] == "done"
    assert notes(api, contact_id)["total"] == 0


def test_closing_with_a_note_stores_it_trimmed_as_the_callers_note(app, api, sup, site):
    contact_id = open_contact(api, site.id)
    body = as_json(close(api, contact_id, {"outcome": "no_answer", "note": "  Called twice, no answer.\n"}))
    assert body["outcome"] == "no_answer"
    page = notes(api, contact_id)
    (note,) = assert_page(page, 1, 50, 1)
    assert set(note) == NOTE_FIELDS
    assert (note["text"], note["author"]) == ("Called twice, no answer.", sup.email)
    (closed,) = audit_rows(app, "contact.closed")
    assert closed["subject_id"] == contact_id and closed["details"]["outcome"] == "no_answer"
    (added,) = audit_rows(app, "contact.note_added")
    assert added["details"] == {"note_id": note["id"], "text": "Called twice, no answer."}
    assert added["actor"] == f"api {sup.email}"


INVALID_CLOSES = [
    ({"outcome": "won"}, {"outcome"}),
    ({"outcome": "DONE"}, {"outcome"}),
    ({"outcome": 1}, {"outcome"}),
    ({"outcome": ["spam"]}, {"outcome"}),
    ({"note": ""}, {"note"}),
    ({"note": "   "}, {"note"}),
    ({"note": "x" * 5001}, {"note"}),
    ({"note": 5}, {"note"}),
    ({"outcome": "won", "note": ""}, {"outcome", "note"}),
    ({"also_close_same_source": "yes", "outcome": "spam"}, {"also_close_same_source"}),
    ({"also_close_same_source": True}, {"also_close_same_source"}),  # not spam
    ({"also_close_same_source": True, "outcome": "done"}, {"also_close_same_source"}),
]


@pytest.mark.parametrize(("body", "fields"), INVALID_CLOSES)
def test_an_invalid_close_is_422_and_changes_nothing(app, api, factory, site, anna, body, fields):
    contact_id = open_contact(api, site.id)
    before = factory.counts()
    assert_error(close(api, contact_id, body), 422, "validation_error", fields=fields)
    assert factory.counts() == before  # no note, no audit row
    read = as_json(api.get(f"/contacts/{contact_id}"))
    assert (read["status"], read["outcome"]) == ("assigned", None)
    assert true_loads(app)[anna.id] == (1, 1)


def test_a_close_body_that_is_not_json_is_415_or_400(api, site):
    contact_id = open_contact(api, site.id)
    path = f"/contacts/{contact_id}/close"
    assert_error(api.post(path, data="outcome=spam", content_type="text/plain"), 415)
    assert_error(api.post(path, data="[1]", content_type="application/json"), 400)
    assert as_json(api.get(f"/contacts/{contact_id}"))["status"] == "assigned"


def test_unknown_fields_of_a_close_are_ignored(api, site):
    contact_id = open_contact(api, site.id)
    assert as_json(close(api, contact_id, {"outcome": "duplicate", "reason": "x"}))["outcome"] == "duplicate"


def test_closing_a_closed_contact_is_409_even_with_a_note(api, factory, site):
    contact_id = open_contact(api, site.id)
    as_json(close(api, contact_id, {"outcome": "spam"}))
    before = factory.counts()
    assert_error(close(api, contact_id, {"outcome": "done", "note": "again"}), 409)
    assert factory.counts() == before
    assert as_json(api.get(f"/contacts/{contact_id}"))["outcome"] == "spam"


# --- the outcome filter ------------------------------------------------------------------------------


def test_the_list_filters_by_outcome(api, site, factory):
    made = {outcome: open_contact(api, site.id, phone=f"+7999123456{i}")
            for i, outcome in enumerate(("done", "no_answer", "spam", "duplicate"))}
    for outcome, contact_id in made.items():
        as_json(close(api, contact_id, {"outcome": outcome}))
    still_open = open_contact(api, site.id, phone="+79990000000")
    for outcome, contact_id in made.items():
        body = as_json(api.get(f"/contacts?outcome={outcome}"))
        assert [c["id"] for c in assert_page(body, 1, 50, 1)] == [contact_id]
    assert {c["id"] for c in as_json(api.get("/contacts?outcome="))["items"]} == {*made.values(), still_open}
    assert as_json(api.get("/contacts?outcome=spam&status=assigned"))["items"] == []
    for bad in ("won", "SPAM", "1"):
        assert_error(api.get(f"/contacts?outcome={bad}"), 422, fields={"outcome"})


# --- notes -------------------------------------------------------------------------------------------


def test_notes_are_added_201_and_listed_oldest_first_in_pages(api, sup, site):
    contact_id = open_contact(api, site.id)
    added = []
    for i in range(3):
        response = api.post(f"/contacts/{contact_id}/notes", {"text": f"  note {i}  "})
        added.append(as_json(response, 201))
    assert set(added[0]) == NOTE_FIELDS
    assert [(n["text"], n["author"]) for n in added] == [(f"note {i}", sup.email) for i in range(3)]
    assert notes(api, contact_id)["items"] == added  # oldest first, read as added
    second = notes(api, contact_id, "?per_page=2&page=2")
    assert assert_page(second, 2, 2, 3) == added[2:]
    assert_error(api.get(f"/contacts/{contact_id}/notes?per_page=101"), 422, fields={"per_page"})


def test_a_note_of_5000_characters_is_taken(api, site):
    contact_id = open_contact(api, site.id)
    text = "я" * 5000
    assert as_json(api.post(f"/contacts/{contact_id}/notes", {"text": f"\n{text}  "}), 201)["text"] == text


INVALID_NOTES = [{}, {"text": None}, {"text": ""}, {"text": " \n\t "}, {"text": "x" * 5001}, {"text": 12},
                 {"text": ["a"]}, {"text": "a\x00b"}]


@pytest.mark.parametrize("body", INVALID_NOTES)
def test_an_invalid_note_is_422_and_writes_nothing(api, factory, site, body):
    contact_id = open_contact(api, site.id)
    before = factory.counts()
    assert_error(api.post(f"/contacts/{contact_id}/notes", body), 422, "validation_error", fields={"text"})
    assert factory.counts() == before


def test_notes_of_a_missing_contact_are_404(api, factory):
    before = factory.counts()
    for contact_id in (999_999, 2**31):
        assert_error(api.get(f"/contacts/{contact_id}/notes"), 404)
        assert_error(api.post(f"/contacts/{contact_id}/notes", {"text": "hello"}), 404)
    assert factory.counts() == before


def test_any_staff_user_may_add_notes_to_any_contact(client, factory, api, site, anna, boris):
    theirs = open_contact(api, site.id)  # Anna's
    queued = open_contact(api, factory.source("Queue").id, email="q@example.com")
    closed = open_contact(api, site.id, email="c@example.com")
    as_json(close(api, closed))
    boris_user = factory.staff("operator", operator_id=boris.id)
    as_boris = Api(client, boris_user)
    for contact_id in (theirs, queued, closed):
        note = as_json(as_boris.post(f"/contacts/{contact_id}/notes", {"text": "Seen by Boris"}), 201)
        assert note["author"] == boris_user.email
        assert [n["text"] for n in notes(as_boris, contact_id)["items"]] == ["Seen by Boris"]


# --- spam: the lead's other open contacts from the same source -------------------------------------


def test_spam_with_also_close_same_source_closes_the_others_and_keeps_loads_exact(
    app, api, factory, anna, boris
):
    site = factory.source("Site", weights={anna: 1, boris: 1})
    other_source = factory.source("Calls", weights={boris: 1})
    spam = [open_contact(api, site.id) for _ in range(4)]  # one lead, spread over Anna and Boris
    elsewhere = open_contact(api, other_source.id)  # same lead, another source
    someone_else = open_contact(api, site.id, phone="+79990000001")
    already = open_contact(api, site.id)
    as_json(close(api, already, {"outcome": "done"}))

    body = as_json(close(api, spam[0], {"outcome": "spam", "note": "bot", "also_close_same_source": True}))
    assert body["outcome"] == "spam"
    assert sorted(body["also_closed"]) == sorted(spam[1:])
    for contact_id in spam:
        assert as_json(api.get(f"/contacts/{contact_id}"))["outcome"] == "spam"
    for contact_id in (elsewhere, someone_else):
        assert as_json(api.get(f"/contacts/{contact_id}"))["status"] == "assigned"
    assert as_json(api.get(f"/contacts/{already}"))["outcome"] == "done"
    for load, counted in true_loads(app).values():
        assert load == counted
    closed = audit_rows(app, "contact.closed")
    by_contact = {row["subject_id"]: row["details"] for row in closed}
    assert by_contact[spam[0]].get("same_source_as") is None
    assert {by_contact[c]["same_source_as"] for c in spam[1:]} == {spam[0]}
    assert len(audit_rows(app, "contact.note_added")) == 1  # the note is the first contact's only
    assert [n["text"] for n in notes(api, spam[0])["items"]] == ["bot"]
    assert notes(api, spam[1])["items"] == []


def test_an_operator_user_closes_as_spam_only_the_others_it_holds(app, client, api, factory, anna, boris):
    from crm_web.services.sources import replace_distribution

    site = factory.source("Site", weights={anna: 1})
    annas = [open_contact(api, site.id) for _ in range(3)]
    factory._call(replace_distribution, site.id, {boris.id: "1"})
    boris_ = [open_contact(api, site.id) for _ in range(2)]  # the same lead, now Boris's
    as_anna = Api(client, factory.staff("operator", operator_id=anna.id))
    body = as_json(close(as_anna, annas[0], {"outcome": "spam", "also_close_same_source": True}))
    assert sorted(body["also_closed"]) == annas[1:]
    for contact_id in annas:
        assert as_json(api.get(f"/contacts/{contact_id}"))["outcome"] == "spam"
    for contact_id in boris_:
        assert as_json(api.get(f"/contacts/{contact_id}"))["status"] == "assigned"
    assert true_loads(app) == {anna.id: (0, 0), boris.id: (2, 2)}


def test_also_close_same_source_with_no_others_closes_just_the_one(api, site):
    contact_id = open_contact(api, site.id)
    body = as_json(close(api, contact_id, {"outcome": "spam", "also_close_same_source": True}))
    assert (body["outcome"], body["also_closed"]) == ("spam", [])
