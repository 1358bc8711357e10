"""JSON API /api/v1 for staff and integrations: bearer tokens, no session, no CSRF."""

from __future__ import annotations

from flask import Blueprint

from ..core.errors import error_response
from .common import ApiError, authenticate
from .page_rules import register as register_page_rules

bp = Blueprint("api", __name__)
bp.before_request(authenticate)
# Pages render the same rules the API checks (weights' pattern and bounds).
bp.record_once(lambda state: register_page_rules(state.app))


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    response = error_response(exc.status, exc.message)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mini-crm"'
    return response


from . import contacts, docs, leads, operators, sources  # noqa: E402,F401  (routes register on bp)
