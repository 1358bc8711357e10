"""Server-rendered pages for staff: one module per area, all on one blueprint."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__)

from . import (  # noqa: E402,F401  (routes register on bp)
    auth,
    contacts,
    errors,
    leads,
    operators,
    overview,
    queue,
    sources,
    users,
)
