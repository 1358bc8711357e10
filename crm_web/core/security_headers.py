"""Security headers on every response."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask


# No inline script or style anywhere: htmx is configured (meta htmx-config)
# not to inject its indicator styles, and our JS lives in static/js.
def content_security_policy(connect_to: str = "") -> str:
    """`connect_to`: one more origin pages may connect to (the live stream's, when it is another)."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'{' ' + connect_to if connect_to else ''}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


CSP = content_security_policy()


def headers(csp: str = CSP) -> tuple[tuple[str, str], ...]:
    values = (
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
    )
    # What a server would refuse in a header, checked once here, not per response.
    assert all("\n" not in v and "\r" not in v and "\x00" not in v for _, v in values)
    return values


HEADERS = headers()


def configure_security_headers(app: Flask) -> None:
    stream = urlsplit(app.config.get("CRM_LIVE_STREAM_URL", ""))
    stream_origin = f"{stream.scheme}://{stream.netloc}" if stream.netloc else ""
    app.wsgi_app = SecurityHeaders(app.wsgi_app, headers(content_security_policy(stream_origin)))


class SecurityHeaders:
    """WSGI middleware: the headers on every response the app sends, errors and static files too.

    Added to the header list the app hands to `start_response` (PEP 3333),
    so no per-response hook or header validation runs; a header a view set
    itself (its own Content-Security-Policy, say) is kept.
    """

    def __init__(self, wsgi_app, values: tuple[tuple[str, str], ...] = HEADERS) -> None:
        self.wsgi_app = wsgi_app
        self.by_name = tuple((name.lower(), (name, value)) for name, value in values)

    def __call__(self, environ, start_response):
        def start_with_headers(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            missing = [header for name, header in self.by_name if name not in present]
            return start_response(status, [*headers, *missing], exc_info)

        return self.wsgi_app(environ, start_with_headers)
