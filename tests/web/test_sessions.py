"""Sessions live on the server: signing out, disabling and a new password end them for good."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from crm_web.core.extensions import db
from crm_web.models import UserSession, utcnow
from tests.helpers import csrf_from


def cookie_of(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "the client holds no session cookie"
    return cookie.value


def browser_with(app, cookie: str):
    """Another browser holding a copy of a session cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def signed_in(some_client) -> bool:
    return some_client.get("/users").status_code != 302


def sign_out(some_client):
    token = csrf_from(some_client.get("/").get_data(as_text=True))
    return some_client.post("/logout", data={"csrf_token": token})


def test_a_copy_of_the_cookie_taken_before_signing_out_is_signed_out_too(app, client, sign_in):
    sign_in("supervisor")
    copy = cookie_of(client)
    assert signed_in(browser_with(app, copy))
    assert sign_out(client).status_code == 303
    assert not signed_in(client)
    assert not signed_in(browser_with(app, copy))


def test_signing_out_one_browser_keeps_the_users_other_sessions(app, client, sign_in, log_in):
    staff = sign_in("supervisor")
    other = app.test_client()
    log_in(other, staff.email)
    sign_out(client)
    assert signed_in(other)


def test_signing_in_starts_a_new_session_and_the_old_csrf_token_stops_working(app, client, factory, log_in):
    staff = factory.staff("supervisor")
    before = csrf_from(client.get("/login").get_data(as_text=True))
    cookie_before = cookie_of(client)
    log_in(client, staff.email)
    assert cookie_of(client) != cookie_before
    # A form posted with the token of the signed-out session is refused and writes nothing.
    tokens = factory.count("api_tokens")
    response = client.post("/tokens", data={"label": "fixated", "csrf_token": before})
    assert response.status_code == 400
    assert factory.count("api_tokens") == tokens
    # The new session's own token works.
    fresh = csrf_from(client.get("/tokens").get_data(as_text=True))
    assert fresh != before
    assert client.post("/tokens", data={"label": "mine", "csrf_token": fresh}).status_code == 200
    assert factory.count("api_tokens") == tokens + 1


def test_the_cookie_of_the_signed_out_session_does_not_sign_in(app, client, factory, log_in):
    # Session fixation: a cookie planted before sign-in does not become the signed-in session.
    staff = factory.staff("supervisor")
    client.get("/login")
    planted = cookie_of(client)
    log_in(client, staff.email)
    assert signed_in(client)
    assert not signed_in(browser_with(app, planted))


def test_the_language_choice_survives_signing_in(app, client, factory, log_in):
    staff = factory.staff("supervisor")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/language", data={"locale": "ru", "next": "/login", "csrf_token": token})
    log_in(client, staff.email)
    assert 'lang="ru"' in client.get("/").get_data(as_text=True)


def test_disabling_a_user_ends_all_of_their_sessions(app, client, sign_in, factory, log_in):
    sign_in("supervisor")
    victim = factory.staff("supervisor")
    theirs = [app.test_client(), app.test_client()]
    for browser in theirs:
        log_in(browser, victim.email)
        assert signed_in(browser)
    token = csrf_from(client.get("/users").get_data(as_text=True))
    client.post(f"/users/{victim.user_id}/enabled", data={"csrf_token": token})
    assert not any(signed_in(browser) for browser in theirs)
    # Enabling again does not bring the old sessions back.
    client.post(f"/users/{victim.user_id}/enabled", data={"csrf_token": token})
    assert not any(signed_in(browser) for browser in theirs)
    assert signed_in(client)


def _age_sessions(app, **ago):
    with app.app_context():
        values = {column: utcnow() - delta for column, delta in ago.items()}
        db.session.execute(update(UserSession).values(**values))
        db.session.commit()


def test_a_session_ends_after_twelve_idle_hours(app, client, sign_in):
    sign_in("supervisor")
    _age_sessions(app, last_seen_at=timedelta(hours=11, minutes=50))
    assert signed_in(client)  # a page view renews it
    _age_sessions(app, last_seen_at=timedelta(hours=12, minutes=1))
    assert not signed_in(client)


def test_a_session_ends_seven_days_after_sign_in_however_busy(app, client, sign_in):
    sign_in("supervisor")
    _age_sessions(app, created_at=timedelta(days=6, hours=23))
    assert signed_in(client)
    _age_sessions(app, created_at=timedelta(days=7, minutes=1))
    assert not signed_in(client)


def test_a_page_view_renews_the_idle_clock_at_most_every_few_minutes(app, client, sign_in):
    sign_in("supervisor")
    _age_sessions(app, last_seen_at=timedelta(hours=1))
    client.get("/")
    with app.app_context():
        seen = db.session.scalar(db.select(UserSession.last_seen_at))
    assert utcnow() - seen < timedelta(minutes=1)


def test_signing_out_removes_the_sessions_row(app, client, sign_in, factory):
    sign_in("supervisor")
    assert factory.count("user_sessions") == 1
    sign_out(client)
    assert factory.count("user_sessions") == 0
