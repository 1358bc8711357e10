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


# Integers past what the database (int64) or a float (about 10**308) holds:
# hypothesis draws them only by luck, and one such value once gave a 500.
HUGE = ["9" * 400, "-" + "9" * 400, str(2**63), str(-(2**63) - 1), "1e999"]
# Number fields of forms the crawler does reach, swept here too.
NUMBER_POSTS = [
    ("sup", "/users/new", ("operator_id",)),
    ("sup", "/operators/new", ("max_load",)),
    ("sup", "/operators/{anna}/edit", ("max_load",)),
    ("sup", "/sources/{site}/weights", ("weight-{anna}", "weight-{boris}")),
    ("sup", "/tokens", ("expires_in_days",)),
]


@pytest.mark.parametrize("value", HUGE)
def test_out_of_range_integers_in_any_field_are_refused_not_500(app, factory, gap_world, value):
    client = app.test_client()
    posts = POSTS + NUMBER_POSTS
    for who, template, names in posts + GETS:
        _sign_in(client, gap_world[who].email)
        token = csrf_from(client.get("/").get_data(as_text=True))
        for name in names:
            before = factory.counts()
            if (who, template, names) in posts:
                response = client.post(
                    template.format(**gap_world),
                    data={name.format(**gap_world): value, "csrf_token": token},
                    headers={"Accept": "text/html"},
                )
            else:
                response = client.get(template, query_string={name: value})
            assert response.status_code < 500, (template, name, response.get_data(as_text=True)[:300])
            if response.status_code >= 400 or (who, template, names) not in posts:
                assert factory.counts() == before, (template, name)
        client.post("/logout", data={"csrf_token": token})


def test_out_of_range_ids_in_any_url_are_404_not_500(app, factory, gap_world):
    """Every <int:...> route, on the pages and the API, with an id no row can have."""
    huge = "9" * 30
    rules = [r for r in app.url_map.iter_rules() if "<int:" in r.rule]
    assert len(rules) > 15
    client = app.test_client()
    _sign_in(client, gap_world["sup"].email)
    token = csrf_from(client.get("/").get_data(as_text=True))
    api = {**gap_world["sup"].headers, "Content-Type": "application/json"}
    before = factory.counts()
    for rule in rules:
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", huge)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if path.startswith("/api/"):
                response = client.open(path, method=method, headers=api, data="{}")
            else:
                response = client.open(path, method=method, data={"csrf_token": token})
            assert response.status_code == 404, (method, path, response.status_code)
    assert factory.counts() == before
