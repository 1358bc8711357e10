"""Gap fill: headers on the response kinds tests/test_security_headers.py leaves out,
the webhook token compared with hmac.compare_digest, and thank_you_url payloads escaped.
"""

from __future__ import annotations

import hmac

from markupsafe import escape

from tests.api.helpers import Api

from .conftest import csrf_from

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
    @app.get("/api/v1/test-gap-explodes")
    def explodes():
        raise RuntimeError("boom")

    @app.get("/test-gap-page-explodes")
    def page_explodes():
        raise RuntimeError("boom")

    client = app.test_client()
    for path in ("/api/v1/test-gap-explodes", "/test-gap-page-explodes"):
        response = client.get(path)
        assert response.status_code == 500
        assert_headers(response, path)


def test_webhook_token_is_compared_with_compare_digest(client, factory, monkeypatch):
    import crm_web.services.intake as intake

    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(intake.hmac, "compare_digest", spy)
    source = factory.source("Site", key="site")
    assert client.post("/webhooks/site", json={"phone": "+79991234567"},
                       headers={"X-Webhook-Token": "wrong"}).status_code == 401
    assert client.post("/webhooks/site", json={"phone": "+79991234567"},
                       headers={"X-Webhook-Token": source.webhook_token}).status_code == 201
    assert (b"wrong", source.webhook_token.encode()) in calls
    assert (source.webhook_token.encode(), source.webhook_token.encode()) in calls


def test_thank_you_url_payloads_are_escaped(client, factory, sign_in):
    """thank_you_url accepts any absolute http(s) URL without spaces, so markup can ride in it."""
    sup = sign_in("supervisor")
    api = Api(client, sup)
    payloads = ['https://x.example/"><script>alert(1)</script>', 'https://x.example/"><img/src=x/onerror=alert(1)>']
    for n, url in enumerate(payloads):
        created = api.post("/sources", {"name": f"S{n}", "thank_you_url": "https://ok.example/"})
        assert created.status_code == 201, created.get_data(as_text=True)
        source_id = created.get_json()["id"]
        updated = api.patch(f"/sources/{source_id}", {"thank_you_url": url})
        assert updated.status_code == 200, updated.get_data(as_text=True)
        for path in (f"/sources/{source_id}", f"/sources/{source_id}/edit", "/audit", "/sources"):
            page = client.get(path).get_data(as_text=True)
            assert "<script>alert" not in page and "<img/src=x" not in page, path
        assert str(escape(url)) in client.get(f"/sources/{source_id}").get_data(as_text=True)
