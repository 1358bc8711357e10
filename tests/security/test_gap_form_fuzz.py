"""Gap fill: hypothesis on the forms tests/fuzz/test_properties.py's crawler never reaches.

That crawler signs in as a supervisor with no operator, over a world with no
queued contact and no duplicate pair, and collects only POST forms. So it
never fuzzes: the sign-in form, the queue's assign and drain forms, the
operator's availability form, the merge and not-a-duplicate forms, and the
GET filter forms (/contacts, /leads, /audit, /reports/distribution, /queue,
/leads/merge). Same rules here: never a 5xx; a 4xx writes nothing.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.test_properties import SETTINGS, _sign_in, texts

from .conftest import csrf_from

values = st.one_of(st.just(None), texts, st.integers().map(str), st.sampled_from(["1", "2", "0", "-1"]))


@pytest.fixture
def gap_world(app, factory, make_contact):
    anna = factory.operator("Anna", max_load=10_000)
    boris = factory.operator("Boris", max_load=5)
    site = factory.source("Site", key="site", weights={anna: 1})
    queue_only = factory.source("Queue only", key="queue-only")
    # A duplicate pair (a phone lead, an email lead, then one contact with both).
    keep = make_contact(site, phone="+7 999 100-00-01", name="Ivan").lead_id
    other = make_contact(site, email="ivan@example.org", name="Ivan P.").lead_id
    make_contact(site, phone="+7 999 100-00-01", email="ivan@example.org")
    queued = make_contact(queue_only, phone="+7 999 100-00-02")
    sup = factory.staff("supervisor", email="sup@example.com")
    op_user = factory.staff("operator", operator_id=boris.id, email="boris@example.com")
    return {
        "sup": sup, "op_user": op_user, "anna": anna.id, "boris": boris.id, "site": site.id,
        "keep": keep, "other": other, "queued": queued.id,
    }


def _fields(data, names):
    out = {}
    for name in names:
        value = data.draw(values, label=name)
        if value is not None:
            out[name] = value.replace("\x00", "") if data.draw(st.booleans(), label=f"{name} NUL") else value
    return out


POSTS = [
    ("sup", "/queue/{queued}/assign", ("operator_id", "page", "next")),
    ("op_user", "/queue/{queued}/assign", ("operator_id", "page", "next")),
    ("sup", "/queue/drain", ()),
    ("op_user", "/my/availability", ("active", "next")),
    ("sup", "/leads/merge", ("keep", "other", "next")),
    ("sup", "/leads/duplicates/dismiss", ("keep", "other", "next")),
    ("sup", "/contacts/{queued}/close", ("next",)),
]
GETS = [
    ("sup", "/contacts", ("status", "source_id", "operator_id", "after", "page")),
    ("op_user", "/contacts", ("status", "source_id", "operator_id", "after", "page")),
    ("sup", "/leads", ("q", "after", "page")),
    ("sup", "/audit",
     ("action", "actor", "subject_type", "subject_id", "date_from", "date_to", "user", "after")),
    ("sup", "/reports/distribution", ("source", "from", "to")),
    ("sup", "/queue", ("page",)),
    ("sup", "/leads/merge", ("keep", "other")),
    ("sup", "/leads/duplicates", ("page", "after")),
    ("op_user", "/my", ("page", "after")),
]


@SETTINGS
@given(data=st.data())
def test_forms_the_crawler_misses_never_fail_and_refusals_write_nothing(app, factory, gap_world, data):
    who, template, names = data.draw(st.sampled_from(POSTS), label="form")
    client = app.test_client()
    _sign_in(client, gap_world[who].email)
    token = csrf_from(client.get("/").get_data(as_text=True))
    fields = _fields(data, names)
    if data.draw(st.integers(0, 9), label="keep csrf"):
        fields["csrf_token"] = token
    before = factory.counts()
    response = client.post(template.format(**gap_world), data=fields, headers={"Accept": "text/html"})
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if 400 <= response.status_code < 500:
        assert factory.counts() == before, "a refused request wrote something"


@SETTINGS
@given(data=st.data())
def test_get_filter_forms_never_fail_and_write_nothing(app, factory, gap_world, data):
    who, path, names = data.draw(st.sampled_from(GETS), label="form")
    client = app.test_client()
    _sign_in(client, gap_world[who].email)
    query = _fields(data, names)
    before = factory.counts()
    response = client.get(path, query_string=query, headers={"Accept": "text/html"})
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert factory.counts() == before, "a GET wrote something"


@SETTINGS
@given(email=texts, password=texts, keep_csrf=st.booleans())
def test_sign_in_form_never_fails_and_refusals_write_only_the_failure_audit(
    app, factory, gap_world, email, password, keep_csrf
):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    fields = {"email": email, "password": password}
    if keep_csrf:
        fields["csrf_token"] = token
    before = factory.counts()
    response = client.post("/login", data=fields)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    after = factory.counts()
    # A failed sign-in may add its signin.failed audit row; nothing else changes.
    assert {k: v for k, v in after.items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }
    assert after["audit_events"] - before["audit_events"] in (0, 1)
