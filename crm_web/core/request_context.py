"""Per-request identity: a request id and the audit actor.

The request id comes from a sane incoming `X-Request-ID` (a proxy's) or is
made here; it is echoed in the response header, written with the audit
rows, and shown in error pages and JSON errors so a submission can be
traced. The actor starts anonymous; the pages, the API and the webhook
refine it once they know who is calling.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, has_request_context, request

from .actor import SYSTEM, Actor, set_actor

# The machine endpoints: the webhook, the JSON API and the pages' live poll. They
# authenticate with tokens, answer JSON (errors too) and never read or write the
# cookie session.
MACHINE_PATHS = ("/api", "/webhooks", "/live")


def is_machine_request(req=None) -> bool:
    """A request to the webhook or the API (the current request by default)."""
    path = (req or request).path
    return path.startswith(tuple(p + "/" for p in MACHINE_PATHS)) or path.rstrip("/") in MACHINE_PATHS


_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def request_id() -> str | None:
    """The request's id, made on first use; None outside a request.

    Made lazily because a request may be answered before this module's
    hook runs (the rate limiter's 429 comes from an earlier hook).
    """
    if not has_request_context():
        return None
    rid = g.get("request_id")
    if rid is None:
        incoming = request.headers.get("X-Request-ID", "")
        rid = g.request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
    return rid


def client_ip() -> str | None:
    return request.remote_addr


def set_request_actor(label: str, user_id: int | None = None) -> None:
    set_actor(Actor(label, user_id, client_ip(), request_id()))


def configure_request_context(app: Flask) -> None:
    @app.before_request
    def start_request():
        set_request_actor("anonymous")  # also gives the request its id

    @app.after_request
    def tag_response(response):
        response.headers["X-Request-ID"] = request_id()
        return response

    @app.teardown_request
    def end_request(_exc):
        # Sync workers reuse the thread (and its context) for the next request.
        set_actor(SYSTEM)
