"""Live pages (contract §5): what a page starts from, and the `/live` poll that tells it when to refresh."""

from __future__ import annotations

import html as html_lib
import json
import re
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from crm_web.services import live as live_service
from tests.helpers import recorded_statements

from ..webhooks.helpers import post_json


@pytest.fixture(autouse=True)
def fresh_reads():
    # Each process keeps what it read for a moment; the tests change data between reads.
    live_service.forget()
    yield
    live_service.forget()


def body_attributes(page: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", page, re.S).group(1)
    pairs = re.findall(r'(data-live[\w-]*)="([^"]*)"', body)
    return {name: html_lib.unescape(value) for name, value in pairs}


def live_of(client, path: str = "/queue") -> dict:
    attributes = body_attributes(client.get(path).get_data(as_text=True))
    return {"url": attributes["data-live"], "state": json.loads(attributes["data-live-state"])}


def poll(client, live: dict, version: str | None = None):
    live_service.forget()
    url = live["url"] + ("" if version is None else "&v=" + version)
    return client.get(url)


def test_a_page_starts_from_the_waiting_count_and_a_ticket(client, sign_in, factory, make_contact):
    source = factory.source("Site", key="site")  # nobody in its weight table: contacts wait
    make_contact(source, phone="+79990000001")
    make_contact(source, phone="+79990000002")
    sign_in()
    page = client.get("/queue").get_data(as_text=True)
    assert re.search(r"<title>\(2\) ", page)
    live = live_of(client)
    assert live["url"].startswith("/live?t=")
    assert live["state"]["waiting"] == 2


def test_nothing_changed_is_204_with_no_body(client, sign_in, factory):
    sign_in()
    live = live_of(client)
    response = poll(client, live, live["state"]["v"])
    assert response.status_code == 204
    assert response.get_data() == b""


def test_a_contact_entering_the_queue_changes_the_state(client, sign_in, factory):
    source = factory.source("Site", key="site")
    sign_in()
    live = live_of(client)
    post_json(client, source, {"phone": "+79990000003"})
    response = poll(client, live, live["state"]["v"])
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["waiting"] == live["state"]["waiting"] + 1
    assert answer["v"] != live["state"]["v"]
    assert poll(client, live, answer["v"]).status_code == 204


def test_a_contact_assigned_to_an_operator_changes_their_state_only(client, sign_in, factory, app, log_in):
    anna = factory.operator("Anna", max_load=5)
    boris = factory.operator("Boris", max_load=5)
    source = factory.source("Site", key="site", weights={anna: 1})
    anna_user = factory.staff("operator", operator_id=anna.id)
    boris_user = factory.staff("operator", operator_id=boris.id)
    anna_client, boris_client = app.test_client(), app.test_client()
    log_in(anna_client, anna_user.email)
    log_in(boris_client, boris_user.email)
    anna_live, boris_live = live_of(anna_client, "/my"), live_of(boris_client, "/my")
    post_json(client, source, {"phone": "+79990000004"})  # to Anna: the only one with a rule

    anna_answer = poll(anna_client, anna_live, anna_live["state"]["v"]).get_json()
    assert anna_answer["mine_count"] == anna_live["state"]["mine_count"] + 1
    mine_before, mine_after = (s.split("~")[1] for s in (anna_live["state"]["v"], anna_answer["v"]))
    assert mine_before != mine_after
    # Nothing Boris's pages show changed: the queue is as it was, his own contacts too.
    assert poll(boris_client, boris_live, boris_live["state"]["v"]).status_code == 204


def test_a_contact_joining_a_long_queue_changes_the_count_not_the_first_page(
    client, sign_in, factory, make_contact
):
    from crm_web.web.pages import PER_PAGE

    source = factory.source("Site", key="site")
    for i in range(PER_PAGE + 1):
        make_contact(source, phone=f"+7999100{i:04d}")
    sign_in()
    live = live_of(client)
    make_contact(source, phone="+79992000000")
    answer = poll(client, live, live["state"]["v"]).get_json()
    assert answer["waiting"] == PER_PAGE + 2
    queue_before, queue_after = (v.split("~")[0] for v in (live["state"]["v"], answer["v"]))
    assert queue_before == queue_after  # the open queue pages keep their rows: no refresh


def test_a_contact_leaving_the_first_page_of_the_queue_changes_it(
    client, sign_in, factory, make_contact, app
):
    from crm_web.core.extensions import db
    from crm_web.models import User
    from crm_web.services.contacts import assign_manually

    anna = factory.operator("Anna", max_load=5)
    source = factory.source("Site", key="site")
    oldest = make_contact(source, phone="+79993000001")
    make_contact(source, phone="+79993000002")
    staff = sign_in()
    live = live_of(client)
    with app.app_context():
        assign_manually(db.session, oldest.id, anna.id, db.session.get(User, staff.user_id))
        db.session.remove()
    answer = poll(client, live, live["state"]["v"]).get_json()
    assert answer["waiting"] == 1
    assert answer["v"].split("~")[0] != live["state"]["v"].split("~")[0]


def test_a_missing_forged_or_expired_ticket_is_401_asking_for_a_new_one(client, sign_in, app, monkeypatch):
    sign_in()
    live = live_of(client)
    assert client.get("/live").status_code == 401
    forged = URLSafeTimedSerializer("not-the-secret", salt="crm-live").dumps([1, 0])
    response = client.get(f"/live?t={forged}")
    assert (response.status_code, response.get_json()) == (401, {"renew": True})
    from crm_web.web import live as live_view

    monkeypatch.setattr(live_view, "TICKET_SECONDS", 0)
    time.sleep(1.1)  # itsdangerous counts whole seconds
    assert poll(client, live).status_code == 401


def test_a_new_ticket_needs_a_signed_in_user(client, sign_in, app):
    anonymous = app.test_client().get("/live-ticket")
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]
    sign_in()
    ticket = client.get("/live-ticket").get_json()["ticket"]
    assert client.get(f"/live?t={ticket}").status_code == 200


def test_the_poll_reads_no_session_and_one_small_statement(client, sign_in, app, factory):
    staff = sign_in("operator")
    live = live_of(client)
    live_service.forget()
    with recorded_statements(app) as log:
        response = client.get(live["url"] + "&v=" + live["state"]["v"])
    assert response.status_code == 204
    assert "Set-Cookie" not in response.headers
    assert len(log) == 1, log.statements  # the count, the queue's first page, the own contacts
    assert "users" not in log.statements[0] and "user_sessions" not in log.statements[0]
    # Polled again at once: what this process read a moment ago, no statement at all.
    with recorded_statements(app) as log:
        assert client.get(live["url"] + "&v=" + live["state"]["v"]).status_code == 204
    assert len(log) == 0
    assert staff.email not in response.get_data(as_text=True)


def test_the_idle_answer_writes_no_log_line(client, sign_in, caplog):
    sign_in()
    live = live_of(client)
    caplog.clear()
    with caplog.at_level("INFO", logger="crm_web.request"):
        assert poll(client, live, live["state"]["v"]).status_code == 204
    assert not [r for r in caplog.records if r.name == "crm_web.request" and r.levelname == "INFO"]


def test_the_queue_region_refreshes_on_the_live_event(client, sign_in):
    sign_in()
    page = client.get("/queue").get_data(as_text=True)
    assert 'hx-trigger="live-queue from:body, live-retry"' in page
    assert "every 5s" not in page


def test_operator_users_get_the_notification_switches(client, sign_in):
    sign_in("operator")
    page = client.get("/queue").get_data(as_text=True)
    assert 'data-live-switch="sound"' in page and 'data-live-switch="desktop"' in page


def test_supervisors_without_an_operator_get_no_switches(client, sign_in):
    sign_in()
    assert "data-live-switch" not in client.get("/queue").get_data(as_text=True)


def test_large_ids_are_read_without_overflow(client, sign_in, factory, make_contact, app):
    from sqlalchemy import text

    from crm_web.core.extensions import db

    source = factory.source("Site", key="site")
    contact = make_contact(source, phone="+79994000001")
    with app.app_context():
        db.session.execute(text("UPDATE contacts SET id = 2000000000 WHERE id = :id"), {"id": contact.id})
        db.session.commit()
        db.session.remove()
    make_contact(source, phone="+79994000002")
    sign_in()
    live = live_of(client)
    assert live["state"]["waiting"] == 2
    assert poll(client, live, live["state"]["v"]).status_code == 204
