"""Sign-in, sign-out, anonymous redirects, CSRF and the session cookie."""

import pytest

from tests.helpers import csrf_from

STAFF_PAGES = ["/", "/queue", "/contacts/new", "/contacts", "/leads", "/operators", "/operators/new",
               "/sources", "/sources/new", "/users", "/users/new", "/my"]


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_anonymous_visitors_go_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_sign_in_and_out(client, factory, log_in):
    staff = factory.staff("supervisor")
    response = log_in(client, staff.email.upper())  # e-mail case does not matter
    assert response.status_code == 303
    assert response.location == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/").get_data(as_text=True)
    assert staff.email in page
    token = csrf_from(page)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert client.get("/").status_code == 302


def test_sign_in_follows_next_but_never_off_site(client, factory, log_in):
    staff = factory.staff("supervisor")
    token = csrf_from(client.get("/login?next=/queue").get_data(as_text=True))
    response = client.post("/login?next=/queue", data={"email": staff.email, "password": "password-123",
                                                       "csrf_token": token})
    assert response.location == "/queue"
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"email": staff.email, "password": "password-123", "csrf_token": token}
    response = client.post("/login?next=//evil.example/x", data=data)
    assert response.location == "/"


@pytest.mark.parametrize("which", ["password", "email", "both"])
def test_wrong_credentials_get_one_message(client, factory, log_in, which):
    staff = factory.staff("supervisor")
    email = "nobody@example.com" if which in ("email", "both") else staff.email
    password = "wrong-password" if which in ("password", "both") else "password-123"
    response = log_in(client, email, password)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Wrong email or password." in page
    assert client.get("/").status_code == 302


def test_disabled_user_cannot_sign_in(client, factory, log_in, app):
    from crm_web.core.extensions import db
    from crm_web.models import User

    staff = factory.staff("supervisor")
    with app.app_context():
        db.session.get(User, staff.user_id).is_enabled = False
        db.session.commit()
    response = log_in(client, staff.email)
    assert "Wrong email or password." in response.get_data(as_text=True)


def test_login_post_without_csrf_is_400(client, factory):
    staff = factory.staff("supervisor")
    response = client.post("/login", data={"email": staff.email, "password": "password-123"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_logout_without_csrf_is_400_and_keeps_the_session(client, sign_in):
    sign_in("supervisor")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_sign_out_still_clears_a_remember_me_cookie(client, factory, log_in):
    # Flask-Login's remember-me hook runs on the pages only (not on the webhook
    # and the API, see crm_web/__init__.py); on the pages it still does its work.
    staff = factory.staff("supervisor")
    log_in(client, staff.email)
    client.set_cookie("remember_token", "stale")
    token = csrf_from(client.get("/").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    cleared = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert cleared and "Expires=Thu, 01 Jan 1970" in cleared[0]


def test_webhook_and_api_answers_carry_no_cookie(client, factory):
    source = factory.source()
    response = client.post(
        f"/webhooks/{source.key}", json={"phone": "+79161230000"},
        headers={"X-Webhook-Token": source.webhook_token},
    )
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert "Set-Cookie" not in client.get("/api/v1/operators").headers
