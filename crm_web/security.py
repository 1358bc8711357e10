"""Security headers on every response."""

from __future__ import annotations

from flask import Flask

# No inline script or style anywhere: htmx is configured (meta htmx-config)
# not to inject its indicator styles, and our JS lives in static/js.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)


def configure_security_headers(app: Flask) -> None:
    @app.after_request
    def add_headers(response):
        headers = response.headers
        if "Content-Security-Policy" in headers:  # a view set its own: keep it, fill the rest
            for name, value in HEADERS:
                headers.setdefault(name, value)
        else:  # the common case, in one step (this runs on every webhook call)
            headers.extend(HEADERS)
        return response
