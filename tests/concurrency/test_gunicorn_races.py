"""Races against a real multi-process gunicorn, on SQLite and on PostgreSQL.

CONTRACT §1: the load check and the assignment are one atomic step however
many requests and worker processes run at once; two concurrent requests
with the same new identifier end with one lead; manual assignment has the
same atomic guarantee. CONTRACT §2: an Idempotency-Key repeat creates
nothing and answers 200 with the original body; 429 for too many requests,
counted in a storage shared by the processes (`RATELIMIT_STORAGE_URI`).
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import redis

from crm_web.api.serializers import intake_body
from crm_web.core.extensions import db
from crm_web.domain.identifiers import parse_contact_input
from crm_web.services.intake import register_contact

from .clients import REQUEST_TIMEOUT, describe, run_at_once, run_in_pool

pytestmark = pytest.mark.slow

# Redis databases of their own (this one and the next): the rate-limit test flushes them.
REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def redis_url_for(database_url: str) -> str:
    """One Redis database per engine: the test's two runs go at the same time (pytest-xdist)."""
    base, _, number = REDIS_URL.rpartition("/")
    return f"{base}/{int(number) + (0 if database_url.startswith('sqlite') else 1)}"


def post_webhook(http, server, source, payload, *, form=False, headers=None):
    url = server.url(f"/webhooks/{source.key}")
    all_headers = {"X-Webhook-Token": source.webhook_token, **(headers or {})}
    if form:
        return http.post(url, data=payload, headers=all_headers, timeout=REQUEST_TIMEOUT)
    return http.post(url, json=payload, headers=all_headers, timeout=REQUEST_TIMEOUT)


def assert_no_server_errors(server):
    errors = server.server_errors()
    assert not errors, "gunicorn reported errors:\n" + "\n".join(errors[:20])


def operator_loads(sql):
    """{operator id: (max_load, active_load counter, active contacts counted)}."""
    rows = sql(
        "SELECT o.id, o.max_load, o.active_load,"
        " (SELECT COUNT(*) FROM contacts c WHERE c.operator_id = o.id AND c.is_active) AS counted"
        " FROM operators o ORDER BY o.id"
    )
    return {r.id: (r.max_load, r.active_load, r.counted) for r in rows}


# -- automatic distribution ----------------------------------------------------


def test_webhook_flood_respects_max_load_across_workers(factory, start_server, sql):
    max_loads = {"Anna": 5, "Boris": 7, "Vera": 11}
    operators = {name: factory.operator(name, max_load=m) for name, m in max_loads.items()}
    source = factory.source(
        "Site form", weights={operators["Anna"]: 1, operators["Boris"]: "2.50", operators["Vera"]: 40}
    )
    other = factory.operator("Gleb (no rule)", max_load=100)
    server = start_server()

    total = 600
    jobs = []
    for i in range(total):
        # Every request is a new client: a new phone or a new email.
        payload = {"phone": f"+7 999 {i:07d}"} if i % 2 else {"email": f"Client.{i}@Example.com"}
        payload["name"] = f"Client {i}"
        jobs.append((payload, i % 3 == 0))  # a third of them as a form

    answers = run_in_pool(32, jobs, lambda http, job: post_webhook(http, server, source, job[0], form=job[1]))

    bad = [a for a in answers if a.status != 201]
    assert not bad, f"{len(bad)} answers were not 201: {describe(bad)}"
    assert_no_server_errors(server)

    # Every 201 has its row, with the lead and operator it announced, and
    # no row exists without its 201.
    rows = {r.id: r for r in sql("SELECT id, lead_id, source_id, operator_id, is_active FROM contacts")}
    answered = {a.body["contact"]["id"]: a.body for a in answers}
    assert len(answered) == total, "two answers named the same contact"
    assert set(answered) == set(rows)
    for contact_id, body in answered.items():
        row = rows[contact_id]
        announced_operator = body["contact"]["operator"]
        assert row.lead_id == body["contact"]["lead_id"] == body["lead"]["id"]
        assert row.source_id == source.id
        assert row.is_active
        assert row.operator_id == (announced_operator["id"] if announced_operator else None)
        assert body["operator_available"] is (announced_operator is not None)
        assert body["contact"]["status"] == ("assigned" if announced_operator else "unassigned")
        assert body["lead"]["created"] is True
    assert sql("SELECT COUNT(*) AS n FROM leads")[0].n == total

    # Capacity: nobody above max_load, the counter equals the real count,
    # and exactly 5 + 7 + 11 contacts got an operator.
    loads = operator_loads(sql)
    for name, operator in operators.items():
        max_load, counter, counted = loads[operator.id]
        assert counted <= max_load, f"{name} holds {counted} active contacts, max_load {max_load}"
        assert counter == counted, f"{name}: active_load says {counter}, contacts say {counted}"
    assert loads[other.id] == (100, 0, 0)
    assigned = [r for r in rows.values() if r.operator_id is not None]
    assert len(assigned) == sum(max_loads.values()) == 23
    assert sum(1 for a in answers if a.body["operator_available"]) == 23

    # The load really was spread over several worker processes.
    served_by = {pid for pid, *_ in server.access_log("/webhooks/", wait_for=total)}
    assert len(served_by) >= 2, f"all webhooks were served by one process: {served_by}"


# -- lead matching ---------------------------------------------------------------


PHONE_FORMATS = (
    "+7 999 123-45-67",
    "89991234567",
    "+79991234567",
    "8 (999) 123-45-67",
    "79991234567",
    "+7 (999) 123 45 67",
)


def test_same_new_phone_from_30_threads_makes_one_lead(factory, start_server, sql):
    anna = factory.operator("Anna", max_load=10)
    source = factory.source("Call centre", weights={anna: 1})
    server = start_server()

    def send(http, index):
        payload = {"phone": PHONE_FORMATS[index % len(PHONE_FORMATS)], "message": f"request {index}"}
        return post_webhook(http, server, source, payload, form=index % 2 == 1)

    answers = run_at_once(30, send)

    bad = [a for a in answers if a.status != 201]
    assert not bad, f"{len(bad)} answers were not 201: {describe(bad)}"
    assert_no_server_errors(server)

    leads = sql("SELECT id, phone FROM leads")
    assert [r.phone for r in leads] == ["+79991234567"], f"expected one lead, found {leads}"
    lead_id = leads[0].id
    contacts = sql("SELECT id, lead_id FROM contacts")
    assert len(contacts) == 30
    assert {r.lead_id for r in contacts} == {lead_id}
    assert {a.body["lead"]["id"] for a in answers} == {lead_id}
    assert {a.body["contact"]["id"] for a in answers} == {r.id for r in contacts}
    assert sum(1 for a in answers if a.body["lead"]["created"]) == 1
    assert sql("SELECT COUNT(*) AS n FROM lead_duplicates")[0].n == 0
    # The same capacity bookkeeping holds here too: 10 of 30 got Anna.
    assert operator_loads(sql)[anna.id] == (10, 10, 10)


def test_ten_leads_racing_to_take_one_new_email_all_stored(factory, start_server, sql):
    """Each of ten known clients (by phone) sends the same new email at once: one lead takes it,
    the others are linked to it as possible duplicates, and every request is stored on its own lead.
    Nobody is free, so no operator's row lock puts the requests in a line."""
    source = factory.source("Call centre")
    server = start_server()
    phones = [f"+7999555000{n}" for n in range(10)]
    first = run_in_pool(10, phones, lambda http, phone: post_webhook(http, server, source, {"phone": phone}))
    assert [a.status for a in first] == [201] * 10, describe(first)

    def send(http, index):
        payload = {"phone": phones[index % 10], "email": "Shared@Example.com"}
        return post_webhook(http, server, source, payload)

    answers = run_at_once(30, send)

    bad = [a for a in answers if a.status != 201]
    assert not bad, f"{len(bad)} answers were not 201: {describe(bad)}"
    assert_no_server_errors(server)
    leads = {r.phone: r for r in sql("SELECT id, phone, email FROM leads")}
    assert len(leads) == 10
    holders = [lead.id for lead in leads.values() if lead.email == "shared@example.com"]
    assert len(holders) == 1, leads
    for index, answer in enumerate(answers):
        assert answer.body["lead"] == {"id": leads[phones[index % 10]].id, "created": False}
    pairs = sql("SELECT lead_id, duplicate_of_id FROM lead_duplicates")
    linked = {lead for pair in pairs for lead in pair if holders[0] in pair} - set(holders)
    assert linked == {lead.id for lead in leads.values()} - set(holders), pairs
    assert sql("SELECT COUNT(*) AS n FROM contacts")[0].n == 40


# -- idempotency ---------------------------------------------------------------


def test_same_idempotency_key_from_30_threads_creates_one_contact(factory, start_server, sql):
    anna = factory.operator("Anna", max_load=50)
    source = factory.source("Landing", weights={anna: 1})
    server = start_server()
    payload = {"phone": "+7 999 765-43-21", "email": "once@example.com", "name": "Once"}

    answers = run_at_once(
        30,
        lambda http, _index: post_webhook(
            http, server, source, payload, headers={"Idempotency-Key": "order-42"}
        ),
    )

    statuses = Counter(a.status for a in answers)
    bad = [a for a in answers if a.status not in (200, 201)]
    assert not bad, f"unexpected answers: {describe(bad)}"
    assert statuses == {201: 1, 200: 29}, statuses
    assert_no_server_errors(server)

    original = next(a.body for a in answers if a.status == 201)
    differing = [a for a in answers if a.body != original]
    assert not differing, f"bodies differ from the 201 body {original}: {describe(differing)}"

    contacts = sql("SELECT id, lead_id, operator_id FROM contacts")
    assert len(contacts) == 1
    assert contacts[0].id == original["contact"]["id"]
    assert contacts[0].lead_id == original["lead"]["id"]
    assert contacts[0].operator_id == anna.id == original["contact"]["operator"]["id"]
    assert sql("SELECT COUNT(*) AS n FROM leads")[0].n == 1
    assert sql("SELECT COUNT(*) AS n FROM webhook_idempotency_keys")[0].n == 1
    assert operator_loads(sql)[anna.id] == (50, 1, 1)


# -- rate limit ----------------------------------------------------------------


def test_rate_limit_is_shared_by_the_worker_processes(database_url, factory, start_server, sql):
    redis_url = redis_url_for(database_url)
    try:
        store = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
        store.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required for this test and is not reachable at {redis_url}: {exc}")
    source = factory.source("Quiz")
    server = start_server(RATELIMIT_STORAGE_URI=redis_url, CRM_WEBHOOK_RATE_LIMIT="10/minute")

    # Many requests from many threads, so that the (fast) answers are spread
    # over the worker processes rather than all won by one accept() loop.
    jobs = [{"email": f"visitor{i}@example.com"} for i in range(150)]
    answers = run_in_pool(16, jobs, lambda http, payload: post_webhook(http, server, source, payload))

    statuses = Counter(a.status for a in answers)
    assert statuses == {201: 10, 429: 140}, f"{statuses}: {describe(a for a in answers if a.status >= 500)}"
    for limited in (a for a in answers if a.status == 429):
        assert limited.body["error"]["code"] == "rate_limited"
    assert sql("SELECT COUNT(*) AS n FROM contacts")[0].n == 10
    assert_no_server_errors(server)

    # The counting happened in Redis, and more than one process answered:
    # a per-process memory store would have let through up to 10 per worker.
    assert store.dbsize() > 0, "nothing was stored in Redis"
    served_by = {pid for pid, *_ in server.access_log("/webhooks/", wait_for=30)}
    assert len(served_by) >= 2, f"all requests were served by one process: {served_by}"
    store.flushdb()


# -- manual assignment ---------------------------------------------------------


def _unassigned_contacts(app, source, count, prefix):
    """Contacts of a source without rules: they wait in the queue."""
    ids = []
    with app.app_context():
        rng = app.extensions["crm_rng"]
        for i in range(count):
            data = parse_contact_input({"phone": f"+7 {prefix} {i:07d}"}, "RU")
            result = register_contact(db.session, source, data, rng)
            body = intake_body(result)
            assert body["contact"]["status"] == "unassigned"
            ids.append(body["contact"]["id"])
        db.session.remove()
    return ids


def test_manual_assignment_races_through_the_api(app, factory, start_server, sql):
    """Two races on one server: 20 takers of one contact; 20 contacts for one operator."""
    queue = factory.source("Queue only")  # no rules: every contact stays unassigned
    (contact_id,) = _unassigned_contacts(app, queue, 1, "912")
    crowd = _unassigned_contacts(app, queue, 20, "913")
    solo = factory.operator("Solo", max_load=1)
    busy = factory.operator("Busy", max_load=5)
    supervisor = factory.staff()
    server = start_server()

    def assign(http, contact, operator):
        return http.post(
            server.url(f"/api/v1/contacts/{contact}/assign"),
            json={"operator_id": operator.id},
            headers=supervisor.headers,
            timeout=REQUEST_TIMEOUT,
        )

    # 1. Twenty supervisors give the same contact to Solo (max_load 1) at once.
    answers = run_at_once(20, lambda http, _index: assign(http, contact_id, solo))

    statuses = Counter(a.status for a in answers)
    assert statuses == {200: 1, 409: 19}, f"{statuses}: {describe(a for a in answers if a.status != 409)}"
    winner = next(a.body for a in answers if a.status == 200)
    assert winner["id"] == contact_id
    assert winner["status"] == "assigned"
    assert winner["operator"]["id"] == solo.id
    for lost in (a for a in answers if a.status == 409):
        assert lost.body["error"]["code"] in ("not_unassigned", "operator_at_capacity"), lost.body
    row = sql("SELECT operator_id, is_active FROM contacts WHERE id = :id", id=contact_id)[0]
    assert (row.operator_id, row.is_active) == (solo.id, True)
    assert operator_loads(sql)[solo.id] == (1, 1, 1)

    # 2. Twenty different queued contacts are given to Busy (max_load 5) at
    # once: only the operator's capacity stands between them.
    answers = run_at_once(20, lambda http, index: assign(http, crowd[index], busy))

    statuses = Counter(a.status for a in answers)
    assert statuses == {200: 5, 409: 15}, f"{statuses}: {describe(a for a in answers if a.status >= 500)}"
    for lost in (a for a in answers if a.status == 409):
        assert lost.body["error"]["code"] == "operator_at_capacity", lost.body
    won = {crowd[a.index] for a in answers if a.status == 200}
    held = {r.id for r in sql("SELECT id FROM contacts WHERE operator_id = :op", op=busy.id)}
    assert held == won
    queued = sql("SELECT id FROM contacts WHERE operator_id IS NULL AND is_active")
    assert {r.id for r in queued} == set(crowd) - won
    assert operator_loads(sql)[busy.id] == (5, 5, 5)
    assert operator_loads(sql)[solo.id] == (1, 1, 1)
    assert_no_server_errors(server)
