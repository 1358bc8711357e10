"""Every response carries the security headers, pages and JSON alike: errors, redirects,
the webhook, static files and forms too."""

from __future__ import annotations

import pytest

from tests.api.helpers import Api
from tests.helpers import csrf_from

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def assert_headers(response, where) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, where
    assert "script-src 'self'" in csp and "style-src 'self'" in csp, where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (where, name)
    assert response.headers.get("X-Frame-Options") == "DENY", where


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/operators", "/webhooks/nope", "/nope"])
def test_headers_on_every_response(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_headers_on_other_kinds_of_response(app, client, factory, sign_in):
    anna = factory.operator("Anna", max_load=10)
    source = factory.source("Site", key="site", weights={anna: 1})
    webhook = client.post("/webhooks/site", json={"phone": "+79991234567"},
                          headers={"X-Webhook-Token": source.webhook_token})
    assert webhook.status_code == 201
    assert_headers(webhook, "webhook 201 (the hot path)")
    replay = client.post("/webhooks/site", json={"phone": "+79991234567"},
                         headers={"X-Webhook-Token": source.webhook_token, "Idempotency-Key": "k1"})
    assert_headers(replay, "webhook second")
    assert_headers(client.post("/webhooks/site", json={}, headers={"X-Webhook-Token": "bad"}), "webhook 401")
    preflight = {"Origin": "https://x.example", "Access-Control-Request-Method": "POST"}
    assert_headers(client.open("/webhooks/site", method="OPTIONS", headers=preflight), "webhook preflight")
    assert_headers(client.get("/api/v1/openapi.json"), "openapi.json")
    assert_headers(client.get("/static/css/app.css"), "static file")
    assert_headers(client.get("/"), "302 to /login")

    sup = sign_in("supervisor")
    for path in ("/", "/queue", "/audit", "/docs/api", "/tokens", "/contacts/export.csv"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_headers(response, path)
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert_headers(client.post("/operators/new", data={"csrf_token": token, "name": "B", "max_load": "2"}),
                   "303 after a form")
    assert_headers(client.post("/operators/new", data={"csrf_token": token, "name": "", "max_load": "x"}),
                   "422 form")
    api = Api(client, sup)
    assert_headers(api.get("/operators"), "API 200")
    assert_headers(api.post("/operators", {"max_load": "x"}), "API 422")


def test_unexpected_500_carries_the_headers(app):
    @app.get("/api/v1/test-explodes")
    def explodes():
        raise RuntimeError("boom")

    @app.get("/test-page-explodes")
    def page_explodes():
        raise RuntimeError("boom")

    client = app.test_client()
    for path in ("/api/v1/test-explodes", "/test-page-explodes"):
        response = client.get(path)
        assert response.status_code == 500
        assert_headers(response, path)
