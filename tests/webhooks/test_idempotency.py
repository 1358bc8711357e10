"""Idempotency-Key: bound to its request (contract §2).

A true repeat (the same request once normalised) answers 200 with the first
body; the same key with a different body is 422 on `Idempotency-Key`,
writes nothing and shows nothing of the first request. Also under
concurrency, on both databases.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from crm_web.core.extensions import db
from crm_web.domain.idempotency import request_fingerprint
from crm_web.domain.identifiers import parse_contact_input
from tests.helpers import assert_error, before_statements

from .helpers import PHONE, assert_created, assert_intake_body, auth, post_json, rows, url

KEY = {"Idempotency-Key": "order-7"}
FIRST = {"external_id": "crm-7", "phone": PHONE, "email": "ivan@example.com", "name": "Ivan Petrov",
         "message": "Call me after six"}


@pytest.fixture
def anna(factory):
    return factory.operator("Anna", max_load=20)


@pytest.fixture
def source(factory, anna):
    return factory.source("Site form", key="site", weights={anna: 1})


def post_raw_json(client, source, raw: str, **headers):
    return client.post(url(source), data=raw.encode(), content_type="application/json",
                       headers=auth(source, **headers))


def key_rows(app):
    return rows(app, "SELECT key, fingerprint FROM webhook_idempotency_keys")


# --- the fingerprint -------------------------------------------------------------------


def test_the_fingerprint_is_of_the_normalised_request():
    def fp(fields):
        return request_fingerprint(parse_contact_input(fields, "RU"))

    first = fp(FIRST)
    assert len(first) == 64 and int(first, 16) >= 0
    same = {"message": " Call me after six ", "name": "Ivan Petrov\n", "email": "IVAN@example.com",
            "phone": "8 (999) 123-45-67", "external_id": " crm-7", "utm": "ignored"}
    assert fp(same) == first
    for field, other in [("external_id", "crm-8"), ("phone", "+79990000000"), ("email", "olga@example.com"),
                         ("name", "Olga"), ("message", "Call me now")]:
        assert fp({**FIRST, field: other}) != first, field
    # A field left out is not the same as a field given: null and "" stand for "not given".
    without_name = {k: v for k, v in FIRST.items() if k != "name"}
    assert fp(without_name) != first
    assert fp({**FIRST, "name": None}) == fp({**FIRST, "name": "  "}) == fp(without_name)
    # Values do not slide from one field into another.
    assert fp({"phone": PHONE, "name": "a", "message": "b"}) != fp({"phone": PHONE, "name": "a,b"})


# --- a true repeat: 200, the first body ---------------------------------------------------


def test_the_same_body_again_is_the_first_answer(app, client, factory, source):
    first = assert_created(post_json(client, source, FIRST, **KEY))
    before = factory.counts()
    again = post_json(client, source, FIRST, **KEY)
    assert again.status_code == 200
    assert again.get_json() == first
    assert factory.counts() == before
    assert key_rows(app) == [("order-7", request_fingerprint(parse_contact_input(FIRST, "RU")))]


@pytest.mark.parametrize(
    "raw",
    [
        # Another key order, blanks the normaliser strips, another phone format, a case-different
        # email, an unknown field (ignored by the intake).
        '{"message": "Call me after six", "name": "Ivan Petrov", "email": "ivan@example.com", '
        '"phone": "+79991234567", "external_id": "crm-7"}',
        '{ "external_id" : " crm-7 ", "phone": "8 (999) 123-45-67", "email": "IVAN@Example.com ",\n'
        '  "name": "  Ivan Petrov", "message": "Call me after six\\n", "page": "/contacts"}',
    ],
    ids=["key-order", "formatting"],
)
def test_a_repeat_differing_only_in_form_is_the_same_request(client, factory, source, raw):
    first = assert_created(post_json(client, source, FIRST, **KEY))
    before = factory.counts()
    again = post_raw_json(client, source, raw, **KEY)
    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.get_json() == first
    assert factory.counts() == before


def test_a_form_body_repeating_a_json_body_is_the_same_request(client, factory, source):
    first = assert_created(post_json(client, source, FIRST, **KEY))
    before = factory.counts()
    again = client.post(url(source), data={**FIRST, "phone": "+7 999 123 45 67"},
                        headers=auth(source, Accept="application/json", **KEY))
    assert again.status_code == 200
    assert again.get_json() == first
    assert factory.counts() == before


# --- another request under the key: 422, nothing written, nothing shown -----------------------


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Olga"},
        {"message": "Please call back tomorrow"},
        {"phone": "+79990000000"},
        {"email": "olga@example.com"},
        {"external_id": "crm-8"},
        {"message": None},  # a field left out
        {"external_id": None, "phone": None, "email": "ivan@example.com"},
    ],
    ids=["name", "message", "phone", "email", "external_id", "field-left-out", "fewer-identifiers"],
)
def test_another_body_under_the_key_is_422_and_reveals_nothing(app, client, factory, source, change):
    first = assert_created(post_json(client, source, FIRST, **KEY))
    before = factory.counts()
    other = {k: v for k, v in {**FIRST, **change}.items() if v is not None}
    response = post_json(client, source, other, **KEY)
    error = assert_error(response, 422, fields={"Idempotency-Key"})
    assert "Idempotency-Key" in error["message"]
    # Only the error's own words (assert_error checked its keys); the request id aside.
    text = json.dumps({"message": error["message"], "fields": error["fields"]}, ensure_ascii=False)
    for secret in ("Ivan", "Call me after six", "crm-7", "ivan@example.com", "79991234567", "Anna"):
        if secret not in json.dumps(other):
            assert secret not in text, secret
    assert not any(ch.isdigit() for ch in text), text  # no id of the first contact or lead
    assert factory.counts() == before
    # The key still belongs to the first request: its true repeat is answered as before.
    again = post_json(client, source, FIRST, **KEY)
    assert again.status_code == 200 and again.get_json() == first


def test_a_key_stored_without_a_fingerprint_answers_nothing_of_its_request(app, client, factory, source):
    """Stored before keys were bound to their request: nothing proves a repeat is one."""
    assert_created(post_json(client, source, FIRST, **KEY))
    with app.app_context(), db.engine.begin() as conn:  # as a row from before the upgrade
        conn.exec_driver_sql("UPDATE webhook_idempotency_keys SET fingerprint = NULL")
    assert key_rows(app) == [("order-7", None)]
    before = factory.counts()
    for body in (FIRST, {"phone": PHONE, "name": "Olga"}):
        response = post_json(client, source, body, **KEY)
        assert_error(response, 422, fields={"Idempotency-Key"})
        assert "Call me after six" not in response.get_data(as_text=True)
    assert factory.counts() == before


def test_another_body_from_a_browser_form_gets_the_error_page(client, factory, source):
    from crm_web.services.sources import update_source

    factory._call(update_source, source.id, {"thank_you_url": "https://shop.example/thanks"})
    assert_created(post_json(client, source, FIRST, **KEY))
    before = factory.counts()
    response = client.post(url(source, token=source.webhook_token), data={"phone": PHONE, "name": "Olga"},
                           headers={"Accept": "text/html", **KEY})
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Idempotency-Key" in page
    assert "Ivan" not in page and "Call me after six" not in page
    assert factory.counts() == before


def test_the_same_key_on_another_source_is_another_key(client, factory, source, anna):
    other = factory.source("Call centre", key="calls", weights={anna: 1})
    assert_created(post_json(client, source, FIRST, **KEY))
    assert_created(post_json(client, other, {"phone": PHONE, "name": "Olga"}, **KEY))


# --- at once ---------------------------------------------------------------------------------


def _post_at_once(app, source, bodies: list[dict]):
    """Every body from a thread of its own, released together; the answers in order."""
    barrier = threading.Barrier(len(bodies), timeout=30)

    def one(body):
        client = app.test_client()
        barrier.wait()
        response = post_json(client, source, body, **KEY)
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, bodies))


def test_eight_at_once_with_the_same_body_create_one_contact(app, factory, source):
    answers = _post_at_once(app, source, [FIRST] * 8)
    assert Counter(status for status, _ in answers) == {201: 1, 200: 7}, answers
    first = next(body for status, body in answers if status == 201)
    assert_intake_body(first)
    assert all(body == first for _, body in answers)
    counts = factory.counts()
    assert (counts["contacts"], counts["leads"], counts["webhook_idempotency_keys"]) == (1, 1, 1)


def test_two_bodies_at_once_under_one_key_store_only_the_winner(app, factory, source):
    other = {"phone": "+79990000000", "name": "Olga", "message": "Not Ivan"}
    bodies = [FIRST, other] * 4
    answers = _post_at_once(app, source, bodies)
    created = [i for i, (status, _) in enumerate(answers) if status == 201]
    assert len(created) == 1, answers
    winner = bodies[created[0]]
    first = answers[created[0]][1]
    for i, (body, (status, answer)) in enumerate(zip(bodies, answers, strict=True)):
        if body is winner:
            assert (status, answer) == (201 if i == created[0] else 200, first)
        else:
            assert status == 422, (status, answer)
            assert set(answer["error"]["fields"]) == {"Idempotency-Key"}
            assert winner["name"] not in json.dumps(answer)
    counts = factory.counts()
    assert (counts["contacts"], counts["leads"], counts["webhook_idempotency_keys"]) == (1, 1, 1)
    (stored,) = rows(app, "SELECT name, message FROM contacts")
    assert stored == (winner["name"], winner["message"])


@pytest.mark.parametrize("second_body", ["same", "other"])
def test_a_request_arriving_while_the_first_is_open_waits_for_its_answer(app, factory, source, second_body):
    """The second request's claim comes while the first's transaction, key
    reserved, is still open: it waits, then reads the committed answer."""
    first_thread_name = "first-request"
    key_inserted = threading.Event()
    reserved = threading.Event()

    def hold_open(_conn, _cursor, statement, *_rest):
        # Before the first request's next statement after its key's insert: the key is reserved.
        if threading.current_thread().name != first_thread_name:
            return
        if key_inserted.is_set() and not reserved.is_set():
            reserved.set()
            threading.Event().wait(0.5)  # the second request starts meanwhile
        elif "INSERT INTO WEBHOOK_IDEMPOTENCY_KEYS" in statement.upper():  # alone, or in the one statement
            key_inserted.set()

    answers: dict[str, tuple] = {}

    def send(name, body):
        response = post_json(app.test_client(), source, body, **KEY)
        answers[name] = (response.status_code, response.get_json())

    with before_statements(app, hold_open):
        first = threading.Thread(target=send, args=("first", FIRST), name=first_thread_name)
        first.start()
        assert reserved.wait(10)
        send("second", FIRST if second_body == "same" else {"phone": PHONE, "name": "Olga"})
        first.join()

    status, body = answers["first"]
    assert status == 201
    if second_body == "same":
        assert answers["second"] == (200, body)
    else:
        assert answers["second"][0] == 422
        assert set(answers["second"][1]["error"]["fields"]) == {"Idempotency-Key"}
    assert factory.count("contacts") == 1
