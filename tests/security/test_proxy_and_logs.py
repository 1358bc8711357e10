"""Behind a proxy (ProxyFix), secure cookies over HTTPS, and secrets kept out of the server's logs."""

from __future__ import annotations

import urllib.request

import pytest

from tests.conftest import Factory, make_app
from tests.helpers import PASSWORD, csrf_from
from tests.live_server import start_server


def failed_sign_in(client, headers: dict, remote: str = "127.0.0.1"):
    environ = {"REMOTE_ADDR": remote}
    token = csrf_from(client.get("/login", headers=headers, environ_base=environ).get_data(as_text=True))
    return client.post(
        "/login",
        data={"email": "nobody@example.com", "password": "wrong-password", "csrf_token": token},
        headers=headers,
        environ_base=environ,
    )


def dispose(app) -> None:
    from crm_web.core.extensions import db

    with app.app_context():
        db.engine.dispose()


def test_behind_one_proxy_the_client_address_comes_from_x_forwarded_for(database_url, audit_rows_of):
    app = make_app(database_url, CRM_TRUSTED_PROXIES=1, CRM_LOGIN_MAX_FAILURES_ADDRESS=2)
    client = app.test_client()
    # The proxy appends the address it saw; whatever the client wrote before it is ignored.
    # (Over https, Flask-WTF's CSRF check also wants a same-site Referer.)
    spoofed = {
        "X-Forwarded-For": "1.1.1.1, 203.0.113.7",
        "X-Forwarded-Proto": "https",
        "Referer": "https://localhost/login",
    }
    assert failed_sign_in(client, spoofed).status_code == 200
    assert audit_rows_of(app, "signin.failed")[-1]["ip"] == "203.0.113.7"
    # The throttle counts per real client, not per proxy.
    failed_sign_in(client, {"X-Forwarded-For": "203.0.113.7"})
    assert failed_sign_in(client, {"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    assert failed_sign_in(client, {"X-Forwarded-For": "198.51.100.9"}).status_code == 200
    dispose(app)


def test_without_a_proxy_forwarded_headers_are_ignored(database_url, audit_rows_of):
    app = make_app(database_url)
    client = app.test_client()
    failed_sign_in(client, {"X-Forwarded-For": "203.0.113.7"}, remote="192.0.2.1")
    assert audit_rows_of(app, "signin.failed")[-1]["ip"] == "192.0.2.1"
    dispose(app)


@pytest.mark.parametrize(
    ("public_url", "flag", "secure"),
    [
        ("https://crm.example.com", None, True),
        ("http://crm.example.com", None, False),
        ("", None, False),
        ("", "1", True),
        ("https://crm.example.com", "0", False),
    ],
)
def test_cookies_are_secure_when_served_over_https(database_url, monkeypatch, public_url, flag, secure):
    monkeypatch.setenv("CRM_PUBLIC_URL", public_url)
    if flag is None:
        monkeypatch.delenv("CRM_SECURE_COOKIES", raising=False)
    else:
        monkeypatch.setenv("CRM_SECURE_COOKIES", flag)
    app = make_app(database_url)
    assert app.config["SESSION_COOKIE_SECURE"] is secure
    assert app.config["REMEMBER_COOKIE_SECURE"] is secure
    staff = Factory(app).staff("supervisor")
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": staff.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert ("; Secure" in cookie) is secure
    assert "HttpOnly" in cookie
    dispose(app)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tokens_and_passwords_stay_out_of_the_server_logs(app, database_url, factory, tmp_path):
    source = factory.source("Site", key="site")
    staff = factory.staff("supervisor")
    secret_password = "Not-In-Any-Log-" + source.webhook_token[:6]
    server = start_server(database_url, tmp_path / "logs", workers=1)
    try:
        request = urllib.request.Request(
            server.url(f"/webhooks/site?token={source.webhook_token}"),
            data=b"phone=%2B79991234567&name=Ivan",
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 201
        # A browser sends the page it came from as Referer, query string included
        # (Referrer-Policy: same-origin): a lead search by phone, say.
        referer = server.url(f"/leads?q=%2B79991234567&token={source.webhook_token}")
        lookup = urllib.request.Request(
            server.url("/api/v1/leads?phone=%2B79991234567"), headers={**staff.headers, "Referer": referer}
        )
        with urllib.request.urlopen(lookup, timeout=10) as answer:
            assert answer.status == 200
        # A failed sign-in: the form's password must not be logged either.
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(server.url("/login"), timeout=10) as page:
            token = csrf_from(page.read().decode())
        body = f"email={staff.email}&password={secret_password}&csrf_token={token}".encode()
        with opener.open(server.url("/login"), data=body, timeout=10) as answer:
            assert answer.status == 200
    finally:
        server.stop()
    logs = server.stdout_path.read_text() + server.stderr()
    assert "/webhooks/site" in logs  # the access log is on, the request was logged
    assert source.webhook_token not in logs
    assert staff.token not in logs
    assert "79991234567" not in logs
    assert secret_password not in logs
