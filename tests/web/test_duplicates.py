"""/leads/duplicates, the merge preview and its confirmation, dismissing a pair (supervisors only)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm_web.core.extensions import db
from crm_web.models import AuditEvent, Contact, Lead, LeadDuplicate


def page(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def source(factory):
    return factory.source(name="Website form")


@pytest.fixture
def pair(make_contact, source):
    """Lead "keep" (phone, 2 contacts) and lead "other" (email, 1 contact), recorded as a pair."""
    keep = make_contact(source, phone="+7 999 100-00-01", name="Ivan").lead_id
    other = make_contact(source, email="ivan@example.org", name="Ivan P.").lead_id
    both = make_contact(source, phone="+7 999 100-00-01", email="ivan@example.org")
    assert both.lead_id == keep
    return {"keep": keep, "other": other}


def snapshot(app):
    with app.app_context():
        s = db.session
        state = (
            sorted(s.execute(select(Contact.id, Contact.lead_id)).all()),
            sorted(s.execute(select(Lead.id, Lead.phone, Lead.email, Lead.name)).all()),
            s.scalar(select(func.count(LeadDuplicate.id))),
            s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "lead.merged")),
        )
        db.session.remove()
        return state


def merge_form(html: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="/leads/merge".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))


@pytest.mark.parametrize("path", ["/leads/duplicates", "/leads/merge?keep=1&other=2"])
def test_operator_users_may_not_open_the_pages(client, sign_in, path):
    sign_in("operator")
    assert client.get(path).status_code == 403


def test_operator_users_may_not_merge_or_dismiss(client, sign_in, csrf, pair, app):
    sign_in("operator")
    token = csrf("/leads")
    before = snapshot(app)
    assert client.post("/leads/merge", data={
        "csrf_token": token, "keep": pair["keep"], "other": pair["other"], "token": "x"
    }).status_code == 403
    assert client.post("/leads/duplicates/dismiss", data={
        "csrf_token": token, "lead": pair["other"], "other": pair["keep"]
    }).status_code == 403
    assert snapshot(app) == before


def test_the_list_shows_both_leads_with_counts(client, sign_in, pair):
    sign_in()
    html = page(client.get("/leads/duplicates"))
    assert "1 pair" in html
    assert "Ivan P." in html and "ivan@example.org" in html and "+79991000001" in html
    assert "2 contacts" in html and "1 contact" in html
    assert f'href="/leads/merge?keep={pair["keep"]}&amp;other={pair["other"]}"' in html
    assert 'href="/leads/duplicates"' in html  # the supervisor's nav entry


def test_an_empty_list_says_so(client, sign_in):
    sign_in()
    assert "No possible duplicates." in page(client.get("/leads/duplicates"))


def test_the_lead_page_links_to_the_merge_for_supervisors_only(client, sign_in, pair, log_in, factory, app):
    sign_in()
    html = page(client.get(f"/leads/{pair['keep']}"))
    assert f'/leads/merge?keep={pair["keep"]}&amp;other={pair["other"]}' in html
    operator = factory.staff("operator", operator_id=factory.operator().id)
    other_client = app.test_client()
    log_in(other_client, operator.email)
    assert "/leads/merge" not in page(other_client.get(f"/leads/{pair['keep']}"))


def test_preview_shows_the_result_and_writes_nothing(client, sign_in, pair, app):
    sign_in()
    before = snapshot(app)
    response = client.get(f"/leads/merge?keep={pair['keep']}&other={pair['other']}")
    html = page(response)
    assert response.status_code == 200
    assert "ivan@example.org" in html and "filled in" in html  # the email comes over
    assert "<del>Ivan P.</del>" in html and "dropped" in html  # the kept name wins
    assert "1 contact moves to lead" in html
    assert snapshot(app) == before
    assert merge_form(html)["keep"] == str(pair["keep"])


def test_preview_of_unknown_or_identical_leads(client, sign_in, pair):
    sign_in()
    assert client.get(f"/leads/merge?keep={pair['keep']}&other=999999").status_code == 404
    assert client.get("/leads/merge?keep=abc&other=1").status_code == 404
    assert client.get(f"/leads/merge?keep={pair['keep']}&other={pair['keep']}").status_code == 422


def test_confirm_merges_and_redirects_to_the_kept_lead(client, sign_in, pair, app):
    sign_in()
    fields = merge_form(page(client.get(f"/leads/merge?keep={pair['keep']}&other={pair['other']}")))
    response = client.post("/leads/merge", data=fields)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/leads/{pair['keep']}"
    contacts, leads, pairs, merged = snapshot(app)
    assert {lead_id for _, lead_id in contacts} == {pair["keep"]} and len(contacts) == 3
    assert leads == [(pair["keep"], "+79991000001", "ivan@example.org", "Ivan")]
    assert (pairs, merged) == (0, 1)
    html = page(client.get(response.headers["Location"]))
    assert "merged into this one; 1 contact moved." in html

    # The same confirmation again (a second click, another tab): a clear 409.
    again = client.post("/leads/merge", data=fields)
    assert again.status_code == 409
    assert f"was already merged into lead #{pair['keep']}" in page(again)
    assert snapshot(app) == (contacts, leads, pairs, merged)


def test_confirm_after_a_new_contact_is_a_conflict_with_a_fresh_preview(
    client, sign_in, pair, app, make_contact, source
):
    sign_in()
    stale = merge_form(page(client.get(f"/leads/merge?keep={pair['keep']}&other={pair['other']}")))
    make_contact(source, email="ivan@example.org", message="late")
    before = snapshot(app)
    response = client.post("/leads/merge", data=stale)
    html = page(response)
    assert response.status_code == 409
    assert "changed since you looked" in html
    assert "2 contacts move to lead" in html
    assert snapshot(app) == before
    assert client.post("/leads/merge", data=merge_form(html)).status_code == 303


def test_confirm_without_csrf_changes_nothing(client, sign_in, pair, app):
    sign_in()
    fields = merge_form(page(client.get(f"/leads/merge?keep={pair['keep']}&other={pair['other']}")))
    fields.pop("csrf_token")
    before = snapshot(app)
    assert client.post("/leads/merge", data=fields).status_code == 400
    assert client.post("/leads/duplicates/dismiss", data={
        "lead": pair["other"], "other": pair["keep"]
    }).status_code == 400
    assert snapshot(app) == before


def test_confirm_of_unknown_leads_is_404(client, sign_in, csrf, pair):
    sign_in()
    response = client.post("/leads/merge", data={
        "csrf_token": csrf("/leads/duplicates"), "keep": pair["keep"], "other": 999999, "token": "x"
    })
    assert response.status_code == 404


def test_not_a_duplicate_dismisses_the_pair(client, sign_in, pair, app):
    sign_in()
    html = page(client.get("/leads/duplicates"))
    form = re.search(r'<form method="post" action="/leads/duplicates/dismiss".*?</form>', html, re.S).group(0)
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))
    response = client.post("/leads/duplicates/dismiss", data=fields)
    assert response.status_code == 303
    assert response.headers["Location"] == "/leads/duplicates"
    contacts, leads, pairs, merged = snapshot(app)
    assert (len(leads), pairs, merged) == (2, 0, 0)
    assert "No possible duplicates." in page(client.get("/leads/duplicates"))
    again = client.post("/leads/duplicates/dismiss", data=fields, follow_redirects=True)
    assert "already dismissed" in page(again)
