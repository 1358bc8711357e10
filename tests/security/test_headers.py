"""Every response carries the security headers, pages and JSON alike."""

import pytest


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/operators", "/webhooks/nope", "/nope"])
def test_headers_on_every_response(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
