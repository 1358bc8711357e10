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
_BY_NAME = tuple((name.lower(), (name, value)) for name, value in HEADERS)


# What a server would refuse in a header, checked once here, not per response.
assert all("\n" not in v and "\r" not in v and "\x00" not in v for _, v in HEADERS)


def configure_security_headers(app: Flask) -> None:
    app.wsgi_app = SecurityHeaders(app.wsgi_app)


class SecurityHeaders:
    """WSGI middleware: the headers on every response the app sends, errors and static files too.

    Added to the header list the app hands to `start_response` (PEP 3333),
    so no per-response hook or header validation runs; a header a view set
    itself (its own Content-Security-Policy, say) is kept.
    """

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def start_with_headers(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            missing = [header for name, header in _BY_NAME if name not in present]
            return start_response(status, [*headers, *missing], exc_info)

        return self.wsgi_app(environ, start_with_headers)
