"""Live pages: `/live`, polled by every open staff page (docs/live.md).

Answered by a small WSGI middleware in front of Flask (`LivePoll`): at
hundreds of open pages the poll is most of the app's requests, and most of
its cost would be the framework's per-request work (request context, hooks,
session, logging), not the answer. It reads no cookie and loads no user: the
page carries a signed ticket naming its user and their operator, valid for
TICKET_SECONDS; when it runs out the page fetches a new one from
`/live-ticket`, a page route that checks the session (a signed-out or
disabled user gets none). The ticket lets its holder see the number waiting
and when the queue or their own contacts change, nothing more.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from flask import Flask, current_app, g, jsonify, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import db
from ..services.live import TICKET_SECONDS, live_state, make_ticket, read_ticket
from . import bp as web_bp
from .access import staff_required
from .pages import PER_PAGE

PATH = "/live"
POLL_MS = 1000  # the pages' poll interval: a change shows within it plus one fragment's fetch
# Pages fetch their rows a random moment within this after the stream tells of a change, not all at once.
SPREAD_MS = 400
_JSON = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]


def ticket_for(user) -> str:
    return make_ticket(current_app.secret_key, user.id, user.operator_id)


def configure_live(app: Flask) -> None:
    app.wsgi_app = LivePoll(app, app.wsgi_app)


class LivePoll:
    """WSGI middleware: `GET /live?t=<ticket>&v=<version>` → 204 when the page is up to date,
    else 200 `{"v", "waiting", "mine_count"}`; 401 `{"renew": true}` for a missing, forged or
    expired ticket; 503 when the database does not answer. Anything else goes to Flask."""

    def __init__(self, app: Flask, wsgi_app) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.engine = None  # the app's engine, looked up in the worker on its first poll

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        ticket = read_ticket(self.app.secret_key, query.get("t", [""])[0], TICKET_SECONDS)
        if ticket is None:
            return _answer(start_response, "401 Unauthorized", {"renew": True})
        try:
            state = live_state(self._engine(), ticket[0], PER_PAGE)
        except SQLAlchemyError:
            self.app.logger.warning("live: the database did not answer", exc_info=True)
            return _answer(start_response, "503 Service Unavailable", {"error": {"code": "unavailable"}})
        if query.get("v", [""])[0] == state.version:
            start_response("204 No Content", [("Cache-Control", "no-store")])
            return []
        return _answer(start_response, "200 OK", state.as_json())

    def _engine(self):
        if self.engine is None:
            with self.app.app_context():
                self.engine = db.engine
        return self.engine


def _answer(start_response, status: str, body: dict):
    data = json.dumps(body).encode()
    start_response(status, [*_JSON, ("Content-Length", str(len(data)))])
    return [data]


# GET routes of the pages that answer no page (a file, JSON).
NOT_PAGES = frozenset({"web.export_contacts", "web.export_leads", "web.live_ticket"})


@web_bp.before_request
def read_live_state():
    # Before the view reads what it shows: a change after this moment makes the
    # page's first poll differ, so the page never misses it (docs/live.md).
    # Only for a whole page: htmx's fragments and files start no poll.
    if (
        request.method == "GET"
        and request.endpoint not in NOT_PAGES
        and not request.headers.get("HX-Request")
        and current_user.is_authenticated
    ):
        page_live_state()


def page_live_state():
    """The live state a page shows and starts polling from, read once per request."""
    if "live_state" not in g:
        g.live_state = live_state(db.engine, current_user.operator_id, PER_PAGE, fresh=True)
    return g.live_state


@web_bp.get("/live-ticket")
@staff_required
def live_ticket():
    """A new ticket for the page's poll (the page asks when its ticket runs out)."""
    return jsonify(ticket=ticket_for(current_user))
