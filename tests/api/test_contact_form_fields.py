"""Contacts in /api/v1: what a site form added to a contact (contract §2a); the utm_source filter."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from crm_web.core.extensions import db
from crm_web.models import Contact
from tests.helpers import assert_error

from .helpers import as_json, assert_page, intake

NONE_ADDED = {"form_fields": {}, "utm": {}, "page_url": None, "warnings": []}
FROM_A_FORM = {
    "form_fields": {"Город": "Казань", "tel-715": "not a phone", "=cmd": "1"},
    "utm": {"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "spring"},
    "page_url": "https://shop.example/offer?utm_source=yandex&utm_medium=cpc&utm_campaign=spring",
    "warnings": ["Phone \"not a phone\" (field \"tel-715\") could not be read: not a number."],
}


def added(body: dict) -> dict:
    return {name: body[name] for name in NONE_ADDED}


def set_form_data(app, contact_id: int, **values) -> None:
    """What the site-form intake stores, written straight into the row (utm_source copied as it does)."""
    utm = values.get("utm")
    with app.app_context():
        db.session.execute(
            update(Contact).where(Contact.id == contact_id)
            .values(**values, utm_source=(utm or {}).get("utm_source"))
        )
        db.session.commit()
        db.session.remove()


@pytest.fixture
def source(factory):
    return factory.source("Site", key="site")


def test_a_contact_with_nothing_added_reads_with_empty_values(api, source):
    body = intake(api, source.id, phone="+79991234567")
    assert added(body["contact"]) == NONE_ADDED  # the intake's answer
    contact_id = body["contact"]["id"]
    assert added(as_json(api.get(f"/contacts/{contact_id}"))) == NONE_ADDED
    assert added(as_json(api.get("/contacts"))["items"][0]) == NONE_ADDED
    lead = as_json(api.get(f"/leads/{body['lead']['id']}"))
    assert added(lead["contacts"][0]) == NONE_ADDED


def test_a_contact_reads_with_its_form_fields_utm_page_and_warnings_everywhere(app, api, source):
    body = intake(api, source.id, phone="+79991234567")
    contact_id, lead_id = body["contact"]["id"], body["lead"]["id"]
    set_form_data(app, contact_id, **FROM_A_FORM)
    one = as_json(api.get(f"/contacts/{contact_id}"))
    assert added(one) == FROM_A_FORM
    assert list(one["form_fields"]) == ["Город", "tel-715", "=cmd"]  # in the order received
    assert added(as_json(api.get("/contacts"))["items"][0]) == FROM_A_FORM
    assert added(as_json(api.get(f"/leads/{lead_id}"))["contacts"][0]) == FROM_A_FORM
    # Assigning and closing answer with the contact as well.
    assert added(as_json(api.post(f"/contacts/{contact_id}/close"))) == FROM_A_FORM


def test_empty_stored_values_read_like_none(app, api, source):
    contact_id = intake(api, source.id, phone="+79991234567")["contact"]["id"]
    set_form_data(app, contact_id, form_fields={}, utm={}, page_url=None, warnings=[])
    assert added(as_json(api.get(f"/contacts/{contact_id}"))) == NONE_ADDED


# --- ?utm_source= ------------------------------------------------------------------------------

@pytest.fixture
def marked(app, api, factory, source):
    """Nine contacts, newest last: 0, 3, 6 from yandex, 1, 4, 7 from google, 2, 5, 8 with no marks;
    4 and 7 in a source nobody works (so unassigned)."""
    anna = factory.operator("Anna", max_load=100)
    from crm_web.services.sources import replace_distribution

    with app.app_context():
        replace_distribution(db.session, source.id, {anna.id: "1"})
        db.session.remove()
    queue = factory.source("Queue", key="queue")
    ids = []
    for i in range(9):
        target = queue if i in (4, 7) else source
        ids.append(intake(api, target.id, phone=f"+7999000000{i}")["contact"]["id"])
        marks = {0: "yandex", 1: "google"}.get(i % 3)
        if marks:
            set_form_data(app, ids[-1], utm={"utm_source": marks, "utm_medium": "cpc"})
    return {"ids": ids, "queue": queue}


def test_utm_source_lists_only_contacts_with_exactly_that_mark(api, marked):
    ids = marked["ids"]
    yandex = assert_page(as_json(api.get("/contacts?utm_source=yandex")), 1, 50, 3)
    assert [c["id"] for c in yandex] == [ids[6], ids[3], ids[0]]  # newest first
    assert all(c["utm"]["utm_source"] == "yandex" for c in yandex)
    google = as_json(api.get("/contacts", query_string={"utm_source": "  google "}))  # trimmed
    assert [c["id"] for c in google["items"]] == [ids[7], ids[4], ids[1]]
    for other in ("Google", "googl", "cpc", "nobody"):
        assert_page(as_json(api.get("/contacts", query_string={"utm_source": other})), 1, 50, 0)
    # Blank is no filter, as with the other parameters.
    for blank in ("", "   "):
        assert as_json(api.get("/contacts", query_string={"utm_source": blank}))["total"] == 9


def test_utm_source_combines_with_the_other_filters(api, marked):
    ids, queue = marked["ids"], marked["queue"]
    body = as_json(api.get("/contacts", query_string={"utm_source": "google", "status": "unassigned"}))
    assert [c["id"] for c in body["items"]] == [ids[4], ids[7]]  # the queue: oldest first
    body = as_json(api.get("/contacts", query_string={"utm_source": "google", "source_id": queue.id,
                                                      "status": "assigned"}))
    assert body["items"] == []


@pytest.mark.parametrize("status", [None, "unassigned"])
def test_keyset_pages_walk_a_utm_source_filter(api, marked, status):
    ids = marked["ids"]
    args = {"utm_source": "google", "per_page": 1, **({"status": status} if status else {})}
    expected = [ids[4], ids[7]] if status else [ids[7], ids[4], ids[1]]
    walked, after = [], None
    while True:
        page = as_json(api.get("/contacts", query_string={**args, **({"after": after} if after else {})}))
        assert page["total"] == len(expected)
        if not page["items"]:
            break
        walked += [c["id"] for c in page["items"]]
        after = walked[-1]
    assert walked == expected
    # ?page= over the same filter agrees.
    by_page = [as_json(api.get("/contacts", query_string={**args, "page": n}))["items"]
               for n in range(1, len(expected) + 2)]
    assert [c["id"] for items in by_page for c in items] == expected


@pytest.mark.parametrize("value", ["x" * 256, "a\u0000b", "  " + "y" * 256])
def test_an_invalid_utm_source_is_422(api, source, value):
    error = assert_error(api.get("/contacts", query_string={"utm_source": value}), 422, fields={"utm_source"})
    assert error["fields"]["utm_source"] in (["At most 255 characters."], ["Invalid character."])


def test_the_longest_utm_source_is_accepted(app, api, source):
    mark = "m" * 255
    contact_id = intake(api, source.id, phone="+79991234567")["contact"]["id"]
    set_form_data(app, contact_id, utm={"utm_source": mark})
    assert [c["id"] for c in as_json(api.get(f"/contacts?utm_source={mark}"))["items"]] == [contact_id]
