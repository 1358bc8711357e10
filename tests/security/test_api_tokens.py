"""API tokens: hashed, shown once, listed and revoked by their owner on /tokens, expiring, audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm_web.core.extensions import db
from crm_web.models import ApiToken
from crm_web.services.users import token_hash
from tests.api.helpers import API, bearer, new_token, revoke
from tests.helpers import assert_error, csrf_from

from .helpers import post_form

TOKEN_RE = re.compile(r'id="new-token"[^>]*value="(crm_[A-Za-z0-9_-]+)"')


def tokens_in_db(app, user_id: int) -> list[ApiToken]:
    with app.app_context():
        rows = db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
        ).all()
        db.session.remove()
    return list(rows)


def issue(client, label: str = "", days: str = ""):
    return post_form(client, "/tokens", {"label": label, "expires_in_days": days}, page="/tokens")


@pytest.mark.parametrize("role", ["supervisor", "operator"])
def test_a_user_issues_a_token_that_is_shown_once_and_stored_hashed(app, client, sign_in, role, audit_rows):
    staff = sign_in(role)
    response = issue(client, "Zapier", "30")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    token = TOKEN_RE.search(page).group(1)
    assert "Zapier" in page

    rows = tokens_in_db(app, staff.user_id)
    new = rows[-1]
    assert new.label == "Zapier"
    assert new.token_hash == token_hash(token) and token not in new.token_hash
    assert timedelta(days=29, hours=23) < new.expires_at - datetime.now(UTC) <= timedelta(days=30)
    # It works on the API, and the list never shows it again.
    assert client.get(f"{API}/operators", headers=bearer(token)).status_code == 200
    listing = client.get("/tokens").get_data(as_text=True)
    assert token not in listing and token[-8:] not in listing
    assert f"#{new.id}" in listing and "Zapier" in listing

    issued = [r for r in audit_rows("api_token.issued") if r["subject_id"] == new.id]
    assert len(issued) == 1
    assert issued[0]["details"]["label"] == "Zapier" and issued[0]["actor_user_id"] == staff.user_id
    assert token not in issued[0]["raw"] and new.token_hash not in issued[0]["raw"]


def test_a_token_without_expiry_never_expires(app, client, sign_in):
    staff = sign_in("supervisor")
    assert issue(client).status_code == 200
    assert tokens_in_db(app, staff.user_id)[-1].expires_at is None


@pytest.mark.parametrize(
    ("label", "days"),
    [("x" * 121, ""), ("ok", "0"), ("ok", "3651"), ("ok", "-1"), ("ok", "soon"), ("ok", "1e3"),
     ("ok", "9" * 400)],
)
def test_invalid_token_forms_are_422_and_issue_nothing(app, client, sign_in, factory, label, days):
    staff = sign_in("supervisor")
    before = factory.counts()
    response = issue(client, label, days)
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert factory.counts() == before
    assert len(tokens_in_db(app, staff.user_id)) == 1


def test_revoking_a_token_stops_it_at_once(app, client, sign_in, audit_rows):
    staff = sign_in("operator")
    token = TOKEN_RE.search(issue(client, "to revoke").get_data(as_text=True)).group(1)
    row = tokens_in_db(app, staff.user_id)[-1]
    response = post_form(client, f"/tokens/{row.id}/revoke", {}, page="/tokens")
    assert response.status_code == 303 and response.location == "/tokens"
    assert_error(client.get(f"{API}/operators", headers=bearer(token)), 401)
    # The factory's token still works: only that one was revoked.
    assert client.get(f"{API}/operators", headers=staff.headers).status_code == 200
    page = client.get("/tokens").get_data(as_text=True)
    assert "revoked" in page
    # Revoking again changes nothing and audits nothing more.
    post_form(client, f"/tokens/{row.id}/revoke", {}, page="/tokens")
    revoked = [r for r in audit_rows("api_token.revoked") if r["subject_id"] == row.id]
    assert len(revoked) == 1 and token not in revoked[0]["raw"]


def test_nobody_sees_or_revokes_the_tokens_of_another(app, client, sign_in, factory):
    other = factory.staff("operator", operator_id=factory.operator().id)
    other_row = tokens_in_db(app, other.user_id)[0]
    sign_in("supervisor")  # even a supervisor, on this page
    assert f"#{other_row.id}" not in client.get("/tokens").get_data(as_text=True)
    assert post_form(client, f"/tokens/{other_row.id}/revoke", {}, page="/tokens").status_code == 404
    assert tokens_in_db(app, other.user_id)[0].revoked_at is None
    assert client.get(f"{API}/operators", headers=other.headers).status_code == 200


def test_token_forms_need_csrf(app, client, sign_in, factory):
    staff = sign_in("supervisor")
    row = tokens_in_db(app, staff.user_id)[0]
    before = factory.counts()
    assert client.post("/tokens", data={"label": "x"}).status_code == 400
    assert client.post(f"/tokens/{row.id}/revoke").status_code == 400
    assert factory.counts() == before
    assert tokens_in_db(app, staff.user_id)[0].revoked_at is None


def test_the_tokens_page_needs_a_signed_in_user(client):
    assert client.get("/tokens").status_code == 302
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post("/tokens", data={"csrf_token": token}).status_code == 302


def test_expired_and_revoked_tokens_are_401_everywhere(app, client, factory):
    sup = factory.staff("supervisor")
    expired = new_token(app, sup.user_id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    revoked = new_token(app, sup.user_id)
    revoke(app, sup.user_id, revoked)
    soon = new_token(app, sup.user_id, expires_at=datetime.now(UTC) + timedelta(hours=1))
    for path in ("/operators", "/sources", "/contacts", "/leads"):
        for token in (expired, revoked):
            error = assert_error(client.get(API + path, headers=bearer(token)), 401, "unauthorized")
            assert token not in error["message"]
        assert client.get(API + path, headers=bearer(soon)).status_code == 200


def test_user_changes_are_audited_without_the_password_hash(app, client, sign_in, audit_rows):
    from crm_web.models import User

    sign_in("supervisor")
    page = client.get("/users/new").get_data(as_text=True)
    response = client.post(
        "/users/new",
        data={
            "email": "New.Person@example.com",
            "role": "supervisor",
            "operator_id": "0",
            "password": "a-good-password",
            "csrf_token": csrf_from(page),
        },
    )
    assert response.status_code == 303
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "new.person@example.com"))
        password_hash = user.password_hash
        db.session.remove()
    created = [r for r in audit_rows("user.created") if r["subject_id"] == user.id]
    assert created[0]["details"]["after"] == {
        "email": "new.person@example.com",
        "role": "supervisor",
        "operator_id": None,
        "is_enabled": True,
    }
    assert password_hash not in created[0]["raw"] and "a-good-password" not in created[0]["raw"]

    assert post_form(client, f"/users/{user.id}/enabled", {}, page="/users").status_code == 303
    updated = [r for r in audit_rows("user.updated") if r["subject_id"] == user.id]
    assert updated[0]["details"] == {"before": {"is_enabled": True}, "after": {"is_enabled": False}}
    assert "password" not in updated[0]["raw"]
