"""Changing one's password, a supervisor's reset, and the command line's."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from crm_web.core.extensions import db
from crm_web.models import AuditEvent
from tests.helpers import PASSWORD, csrf_from

NEW = "a-new-secret-42"


def page(response) -> str:
    return response.get_data(as_text=True)


def signed_in(some_client) -> bool:
    return some_client.get("/tokens").status_code == 200


def change(some_client, current=PASSWORD, new=NEW, confirm=None):
    token = csrf_from(page(some_client.get("/account/password")))
    confirm = new if confirm is None else confirm
    return some_client.post(
        "/account/password",
        data={"current_password": current, "new_password": new, "confirm": confirm, "csrf_token": token},
    )


def audit_rows(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        db.session.remove()
        return rows


def test_a_user_changes_their_password_and_their_other_sessions_end(app, client, sign_in, log_in):
    staff = sign_in("operator")
    other = app.test_client()
    log_in(other, staff.email)
    response = change(client)
    assert response.status_code == 303
    assert signed_in(client)  # this browser stays signed in
    assert not signed_in(other)
    fresh = app.test_client()
    assert log_in(fresh, staff.email).status_code == 200  # the old password is refused
    assert log_in(fresh, staff.email, NEW).status_code == 303
    (row,) = audit_rows(app, "user.password_changed")
    assert row.subject_id == staff.user_id and row.actor_user_id == staff.user_id
    details = json.loads(row.details)
    assert details["sessions_ended"] == 1
    assert PASSWORD not in row.details and NEW not in row.details


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field_error"),
    [
        ("wrong-password", NEW, None, "Wrong password."),
        (PASSWORD, "short", None, "At least 8 characters."),
        (PASSWORD, PASSWORD, None, "Choose a password other than the current one."),
        (PASSWORD, NEW, "something-else", "The two passwords differ."),
        (PASSWORD, "x" * 1025, None, "Field cannot be longer than 1024 characters."),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(
    app, client, sign_in, log_in, current, new, confirm, field_error
):
    staff = sign_in("supervisor")
    response = change(client, current, new, confirm)
    assert response.status_code == 422
    assert field_error in page(response)
    assert log_in(app.test_client(), staff.email).status_code == 303  # the old password still works
    assert audit_rows(app, "user.password_changed") == []


def test_a_new_password_may_not_contain_the_users_email(app, client, sign_in):
    sign_in("supervisor", email="marina.k@example.com")
    for guessable in ("marina.k@example.com", "Marina.K-2026"):
        response = change(client, new=guessable)
        assert response.status_code == 422
        assert "Must not contain your email or its name part." in page(response)


def test_every_signed_in_user_finds_the_page_in_their_menu(client, sign_in):
    sign_in("operator")
    assert 'href="/account/password"' in page(client.get("/my"))


def test_the_page_needs_a_signed_in_user(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def reset(client, user_id: int):
    token = csrf_from(page(client.get("/users")))
    return client.post(f"/users/{user_id}/password", data={"csrf_token": token})


def test_a_supervisors_reset_shows_a_one_time_password_once_and_forces_a_new_one(
    app, client, sign_in, factory, log_in
):
    sign_in("supervisor")
    victim = factory.staff("operator", operator_id=factory.operator().id)
    theirs = app.test_client()
    log_in(theirs, victim.email)
    response = reset(client, victim.user_id)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    one_time = re.search(r'id="one-time-password"[^>]*value="([^"]+)"', page(response)).group(1)
    assert len(one_time) >= 12
    assert one_time not in page(client.get("/users"))  # shown once
    assert not signed_in(theirs)  # their sessions ended
    fresh = app.test_client()
    assert log_in(fresh, victim.email).status_code == 200  # the old password is gone
    assert log_in(fresh, victim.email, one_time).status_code == 303
    # The one-time password opens nothing but the change page.
    for path in ("/", "/my", "/queue", "/tokens"):
        response = fresh.get(path)
        assert response.status_code == 303 and response.headers["Location"] == "/account/password", path
    assert "Your password was reset." in page(fresh.get("/account/password"))
    assert change(fresh, current=one_time).status_code == 303
    assert fresh.get("/my").status_code == 200
    assert log_in(app.test_client(), victim.email, NEW).status_code == 303
    (row,) = audit_rows(app, "user.password_reset")
    assert row.subject_id == victim.user_id and one_time not in (row.details or "")


def test_a_supervisor_cannot_reset_their_own_password_there(client, sign_in, log_in, app):
    me = sign_in("supervisor")
    response = reset(client, me.user_id)
    assert response.status_code == 303
    assert log_in(app.test_client(), me.email).status_code == 303


def test_operators_may_not_reset_passwords(app, client, sign_in, factory, log_in):
    victim = factory.staff("supervisor")
    sign_in("operator")
    token = csrf_from(page(client.get("/my")))
    assert client.post(f"/users/{victim.user_id}/password", data={"csrf_token": token}).status_code == 403
    assert log_in(app.test_client(), victim.email).status_code == 303


def test_reset_of_an_unknown_user_is_404(client, sign_in):
    sign_in("supervisor")
    assert reset(client, 999_999).status_code == 404


# --- the command line ------------------------------------------------------------


def test_cli_sets_a_password_and_ends_the_users_sessions(app, runner, factory, log_in):
    staff = factory.staff("supervisor")
    browser = app.test_client()
    log_in(browser, staff.email)
    result = runner.invoke(args=["users", "password", staff.email, "--password", NEW])
    assert result.exit_code == 0, result.output
    assert not signed_in(browser)
    assert log_in(app.test_client(), staff.email, NEW).status_code == 303
    assert len(audit_rows(app, "user.password_set")) == 1


def test_cli_prompts_for_the_password_twice(app, runner, factory, log_in):
    staff = factory.staff("supervisor")
    result = runner.invoke(args=["users", "password", staff.email], input=f"{NEW}\n{NEW}\n")
    assert result.exit_code == 0, result.output
    assert NEW not in result.output
    assert log_in(app.test_client(), staff.email, NEW).status_code == 303


@pytest.mark.parametrize(
    "args", [["users", "password", "nobody@example.com", "--password", NEW],
             ["users", "password", "{email}", "--password", "short"]],
)
def test_cli_refuses_an_unknown_user_or_a_short_password(app, runner, factory, log_in, args):
    staff = factory.staff("supervisor")
    result = runner.invoke(args=[a.format(email=staff.email) for a in args])
    assert result.exit_code != 0
    assert log_in(app.test_client(), staff.email).status_code == 303


def test_cli_disables_and_enables_a_user(app, runner, factory, log_in):
    staff = factory.staff("supervisor")
    browser = app.test_client()
    log_in(browser, staff.email)
    result = runner.invoke(args=["users", "disable", staff.email])
    assert result.exit_code == 0, result.output
    assert not signed_in(browser)
    assert log_in(app.test_client(), staff.email).status_code == 200
    assert app.test_client().get("/api/v1/operators", headers=staff.headers).status_code == 401
    result = runner.invoke(args=["users", "enable", staff.email])
    assert result.exit_code == 0, result.output
    assert log_in(app.test_client(), staff.email).status_code == 303
    assert runner.invoke(args=["users", "disable", "nobody@example.com"]).exit_code != 0


def test_guesses_of_the_current_password_are_throttled_like_sign_ins(app, client, sign_in):
    sign_in("supervisor")
    for _ in range(5):
        assert change(client, current="a-wrong-guess").status_code == 422
    response = change(client)  # the right one too, now
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many wrong passwords." in page(response)
    assert audit_rows(app, "user.password_changed") == []
