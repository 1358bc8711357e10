"""/audit (supervisors): filters, keyset pages, escaping; the contact page's own history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import update

from crm_web.core.actor import Actor, acting_as
from crm_web.core.extensions import db
from crm_web.models import AuditEvent
from crm_web.services.audit import record
from crm_web.services.tx import write_transaction
from tests.helpers import csrf_from

ROW_RE = re.compile(r"<tr>\s*<td class=\"nowrap hide-sm\">.*?</tr>", re.S)


def rows_of(html: str) -> list[str]:
    return ROW_RE.findall(html)


@pytest.fixture
def write(app):
    """`write([(action, subject_type, subject_id, details), ...], actor=...)` in one transaction."""

    def add(items, actor: Actor | None = None):
        with app.app_context(), acting_as(actor or Actor("someone@example.com", 1)):
            with write_transaction(db.session):
                for action, subject_type, subject_id, details in items:
                    record(db.session, action, subject_type, subject_id, details)
            db.session.remove()

    return add


def test_only_supervisors_see_the_trail(client, sign_in):
    assert client.get("/audit").status_code == 302  # anonymous: to /login
    sign_in("operator")
    assert client.get("/audit").status_code == 403


def test_supervisors_have_a_nav_link_operators_do_not(client, sign_in, log_in, factory, app):
    sign_in("supervisor")
    assert 'href="/audit"' in client.get("/").get_data(as_text=True)
    other = app.test_client()
    staff = factory.staff("operator", operator_id=factory.operator().id)
    log_in(other, staff.email)
    assert 'href="/audit"' not in other.get("/").get_data(as_text=True)


def test_newest_first_with_readable_changes_and_links(client, sign_in, factory, events):
    sign_in("supervisor", email="boss@example.com")
    anna = factory.operator("Anna", max_load=2)
    from crm_web.services.operators import update_operator

    with client.application.app_context(), acting_as(Actor("boss@example.com", 1)):
        update_operator(db.session, anna.id, {"max_load": 6})
        db.session.remove()
    html = client.get("/audit").get_data(as_text=True)
    rows = rows_of(html)
    assert "operator.updated" in rows[0] and "operator.created" in rows[1]
    assert "boss@example.com" in rows[0]
    assert re.search(r"max load</strong>:\s*2\s*&rarr;\s*6", rows[0])
    assert f'href="/operators/{anna.id}/edit"' in rows[0]  # the subject's page
    assert "system" in rows[1]  # the factory acted outside any request


def test_filters(client, sign_in, write, forget):
    sign_in("supervisor")
    forget()  # the sign-in's user and token
    write([("contact.closed", "contact", 5, {"operator_id": 1}),
           ("contact.assigned", "contact", 6, {"mode": "manual", "operator_name": "Anna"})],
          Actor("anna@example.com", 11))
    write([("operator.updated", "operator", 3, {"before": {"max_load": 1}, "after": {"max_load": 2}})],
          Actor("api robot@example.com", 12))
    write([("source.token_rotated", "source", 2, {"key": "site"})], Actor("webhook site"))

    def actions(query: str) -> list[str]:
        response = client.get("/audit" + query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return re.findall(r'data-action="([a-z_.]+)"', "".join(rows_of(response.get_data(as_text=True))))

    assert actions("") == ["source.token_rotated", "operator.updated", "contact.assigned", "contact.closed"]
    assert actions("?action=contact.") == ["contact.assigned", "contact.closed"]
    assert actions("?action=contact.closed") == ["contact.closed"]
    assert actions("?action=contact%25") == []  # a prefix, not a LIKE pattern
    assert actions("?actor=ROBOT") == ["operator.updated"]
    assert actions("?actor=example.com") == ["operator.updated", "contact.assigned", "contact.closed"]
    assert actions("?user=11") == ["contact.assigned", "contact.closed"]
    assert actions("?subject_type=contact&subject_id=6") == ["contact.assigned"]
    assert actions("?subject_type=source") == ["source.token_rotated"]
    today = datetime.now(UTC).date()
    assert len(actions(f"?date_from={today}&date_to={today}")) == 4
    assert actions(f"?date_to={today - timedelta(days=1)}") == []
    assert actions(f"?date_from={today + timedelta(days=1)}") == []


@pytest.mark.parametrize(
    "query",
    ["?subject_id=abc", "?date_from=2026-13-45", "?date_from=2026-02-02&date_to=2026-02-01",
     "?subject_type=nonsense", "?action=" + "x" * 65, "?subject_id=" + "9" * 400, "?user=" + "9" * 400],
)
def test_invalid_filters_are_422(client, sign_in, query):
    sign_in("supervisor")
    response = client.get("/audit" + query)
    assert response.status_code == 422
    assert "Some filters are not valid" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    ["date_to=9999-12-31", "date_from=9999-12-31", "action=a%00b", "actor=x%00", "date_to=0001-01-01"],
)
def test_extreme_dates_and_nul_in_filters_never_fail(client, sign_in, query):
    sign_in("supervisor")
    response = client.get(f"/audit?{query}")
    assert response.status_code in (200, 422), response.status_code


def test_date_range_uses_the_event_time(client, sign_in, write, app):
    sign_in("supervisor")
    write([("contact.closed", "contact", 1, None), ("contact.closed", "contact", 2, None)])
    with app.app_context():
        with write_transaction(db.session):
            first = (AuditEvent.subject_type == "contact", AuditEvent.subject_id == 1)
            db.session.execute(update(AuditEvent).where(*first)
                               .values(created_at=datetime(2026, 1, 10, 23, 30, tzinfo=UTC)))
        db.session.remove()
    html = client.get("/audit?date_from=2026-01-10&date_to=2026-01-10").get_data(as_text=True)
    assert [r for r in rows_of(html) if "contact #1" in r] and len(rows_of(html)) == 1
    assert rows_of(client.get("/audit?date_from=2026-01-11&date_to=2026-01-11").get_data(as_text=True)) == []


def test_keyset_pages_walk_everything_once(client, sign_in, write):
    sign_in("supervisor")
    write([("contact.closed", "contact", n, None) for n in range(1, 121)])
    write([("operator.updated", "operator", 1, None)])
    seen: list[int] = []
    url = "/audit?action=contact."
    pages = 0
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += [int(re.search(r"contact #(\d+)", row).group(1)) for row in rows_of(html)]
        assert "120 events, newest first." in html
        nxt = re.search(r'href="([^"]+)" rel="next"', html)
        url = unescape(nxt.group(1)) if nxt else None
        if url:
            assert "action=contact." in url and "after=" in url  # filters stay on the next page
        pages += 1
    assert pages == 3
    assert seen == list(range(120, 0, -1))


def test_details_are_escaped(client, sign_in, write, factory):
    sign_in("supervisor")
    evil = "<script>alert(1)</script>"
    factory.operator(evil)
    write([("contact.assigned", "contact", 1, {
        "mode": "auto", "operator_id": 1, "operator_name": evil,
        "candidates": [{"operator_id": 1, "name": evil, "weight": "1.00", "load": 0, "max_load": 1}],
        "draw": {"value": 0, "total": 100}, "refused": [],
    }), ("operator.updated", "operator", 1, {"before": {evil: evil}, "after": {evil: "<b>x</b>"}})],
        Actor(f"api {evil}@example.com", 3))
    html = client.get("/audit").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_audit_page_query_count_does_not_grow_with_rows(client, sign_in, write, count_queries, factory):
    sign_in("supervisor")
    op = factory.operator("Anna")
    source = factory.source("Site")
    write([("operator.updated", "operator", op.id, None), ("source.updated", "source", source.id, None),
           ("contact.closed", "contact", 1, None), ("user.created", "user", 1, None)])
    small, _ = count_queries(lambda: client.get("/audit"))
    kinds = ("operator", "source", "lead")
    write([(kind + ".updated", kind, n, None) for n in range(2, 40) for kind in kinds])
    large, response = count_queries(lambda: client.get("/audit"))
    assert response.status_code == 200
    assert large == small


# --- the contact page ------------------------------------------------------------------


def test_contact_page_explains_an_automatic_assignment(client, sign_in, factory, make_contact):
    sign_in("supervisor")
    anna = factory.operator("Anna", max_load=5)
    boris = factory.operator("Boris", max_load=5)
    full = factory.operator("Full", max_load=0)
    source = factory.source(weights={anna: "30", boris: "10", full: "50"})
    contact = make_contact(source, phone="+79990000001")
    html = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    history = html.split('id="history"', 1)[1]
    winner = "Anna" if "Why did Anna get this one?" in history else "Boris"
    assert f"Why did {winner} get this one?" in history
    assert "75.0%" in history and "25.0%" in history  # shares among the free operators
    assert "Full" not in history  # never a candidate: no free capacity
    assert re.search(r"Drawn: \d+ of 4000", history)
    assert "0–2999" in history and "3000–3999" in history  # each one's range of the draw
    assert f"The value fell in the range of {winner}." in history


def test_contact_page_shows_queue_manual_assignment_and_close(client, sign_in, factory, make_contact):
    boss = sign_in("supervisor", email="boss@example.com")
    anna = factory.operator("Anna", max_load=3)
    source = factory.source()
    contact = make_contact(source, phone="+79990000001")
    token = csrf_from(client.get("/").get_data(as_text=True))
    client.post(f"/queue/{contact.id}/assign", data={"operator_id": anna.id, "csrf_token": token})
    client.post(f"/contacts/{contact.id}/close", data={"csrf_token": token})
    history = client.get(f"/contacts/{contact.id}").get_data(as_text=True).split('id="history"', 1)[1]
    assert history.index("Queued: no operator was free") < history.index("Assigned: Anna")
    assert history.index("Assigned: Anna") < history.index("Closed")
    assert "boss@example.com chose Anna, who had 0 of 3 active contacts before." in history
    assert boss.email in history


def test_contact_page_query_count_does_not_grow_with_its_history(
    client, sign_in, factory, make_contact, write, count_queries
):
    sign_in("supervisor")
    source = factory.source()
    contact = make_contact(source, phone="+79990000001")
    small, _ = count_queries(lambda: client.get(f"/contacts/{contact.id}"))
    write([("contact.returned", "contact", contact.id, {"reason": "operator_deleted", "operator_name": "X"})
           for _ in range(25)])
    large, response = count_queries(lambda: client.get(f"/contacts/{contact.id}"))
    assert response.get_data(as_text=True).count("Back to the queue") == 25
    assert large == small


def test_every_recorded_action_and_subject_has_a_readable_name_in_both_languages(client, sign_in, write):
    from crm_web.web.audit import ACTION_LABELS, SUBJECT_LABELS

    # Every action a service records (read off the source), so a new one without a name fails here.
    services = Path(__file__).resolve().parents[2] / "crm_web" / "services"
    source = "\n".join(p.read_text() for p in services.glob("*.py"))
    recorded = set(re.findall(r'"([a-z_]+\.[a-z_]+)", "([a-z_]+)"', source))
    assert len(recorded) >= 15
    assert {a for a, _ in recorded} <= set(ACTION_LABELS)
    assert {s for _, s in recorded} <= set(SUBJECT_LABELS)

    write([("source.token_rotated", "source", 2, {"key": "site"}),
           ("operator.updated", "operator", 3, {"before": {"max_load": 1}, "after": {"max_load": 2}}),
           ("api_token.revoked", "api_token", 7, {"label": "ci"})])
    sign_in("supervisor")
    en = client.get("/audit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    ru = client.get("/audit", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Webhook token replaced" in en and "API token revoked" in en and "source #2" in en
    assert "Токен вебхука заменён" in ru and "Токен API отозван" in ru and "источник #2" in ru
    assert "токен API #7" in ru and "максимум в работе</strong>" in ru and "max load</strong>" in en
    # The code is not shown; it is in the link to the events like this one (what the action filter takes).
    assert 'data-action="source.token_rotated">все такие события</a>' in ru
    assert 'href="/audit?action=source.token_rotated"' in ru
    assert ">source.token_rotated<" not in ru
