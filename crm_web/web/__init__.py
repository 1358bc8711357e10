"""Server-rendered pages for staff: one module per area, all on one blueprint."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from ..request_context import set_request_actor

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
    leads,
    operators,
    overview,
    queue,
    reports,
    sources,
    tokens,
    users,
)
