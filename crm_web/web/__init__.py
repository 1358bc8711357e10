"""Server-rendered pages for staff: one module per area, all on one blueprint.

Each area module (contacts, queue, leads, operators, sources, users, tokens,
account, auth, audit, reports, exports, overview) holds its views and its
forms. Shared: `pages` (paging, safe redirects, htmx, failed forms,
look-ups), `forms` (the base form, bounded integers, service errors onto
fields), `toggles` (the lists' Active buttons), `access` (sign-in and
roles), `validators`, `i18n`, `errors`.
A service's NotFound is the 404 page through the app's ServiceError handler
(crm_web/core/errors.py): views do not catch it.
"""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from ..core.request_context import set_request_actor

bp = Blueprint("web", __name__)


@bp.before_request
def audit_actor():
    # The signed-in staff member is the actor of whatever this request changes.
    if current_user.is_authenticated:
        set_request_actor(current_user.email, current_user.id)


from . import (  # noqa: E402,F401  (routes register on bp)
    account,
    audit,
    auth,
    contacts,
    errors,
    exports,
    i18n,
    labels,
    leads,
    operators,
    overview,
    queue,
    reports,
    sources,
    tokens,
    users,
)
