"""Live pages: `/live`, polled by every open staff page (docs/live.md).

A machine endpoint (core/request_context.py): it reads no cookie session and
loads no user. The page carries a signed ticket naming its user and their
operator, valid for TICKET_SECONDS; when it runs out the page fetches a new
one from `/live-ticket`, which does check the session (a signed-out or
disabled user gets none). The ticket lets its holder see the number waiting
and when the queue or their own contacts change, nothing more.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..core.extensions import db
from ..services.live import live_state
from . import bp as web_bp
from .access import staff_required

bp = Blueprint("live", __name__)

TICKET_SECONDS = 15 * 60
POLL_MS = 1500  # the pages' poll interval: a change shows within it plus one fragment's fetch


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="crm-live")


def ticket_for(user) -> str:
    return _signer().dumps([user.id, user.operator_id or 0])


@bp.get("/live")
def live():
    try:
        _user_id, operator_id = _signer().loads(request.args.get("t", ""), max_age=TICKET_SECONDS)
    except (BadSignature, ValueError, TypeError):
        return jsonify(renew=True), 401
    state = live_state(db.engine, operator_id or None)
    if request.args.get("v") == state.version:
        g.quiet_log = True  # the idle answer: nobody needs a log line per page per second
        return "", 204
    return jsonify(state.as_json())


@web_bp.before_request
def read_live_state():
    # Before the view reads what it shows: a change after this moment makes the
    # page's first poll differ, so the page never misses it (docs/live.md).
    if request.method == "GET" and current_user.is_authenticated:
        page_live_state()


def page_live_state():
    """The live state a page shows and starts polling from, read once per request."""
    if "live_state" not in g:
        g.live_state = live_state(db.engine, current_user.operator_id, fresh=True)
    return g.live_state


@web_bp.get("/live-ticket")
@staff_required
def live_ticket():
    return jsonify(ticket=ticket_for(current_user))
