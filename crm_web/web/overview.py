"""/ : the overview — queue size and every operator's load."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..core.extensions import db
from ..services.contacts import ContactFilters, list_contacts
from ..services.operators import all_operators
from ..services.stats import overview_counts
from . import bp
from .access import staff_required
from .local_time import viewer_zone


@bp.get("/")
@staff_required
def overview():
    counts = overview_counts(db.session, viewer_zone())
    oldest = list_contacts(db.session, ContactFilters(status="unassigned"), 1, 5)
    mine = None
    if current_user.operator_id:
        mine = list_contacts(
            db.session, ContactFilters(status="assigned", operator_id=current_user.operator_id), 1, 5
        )
    return render_template(
        "overview.html",
        counts=counts,
        operators=all_operators(db.session),
        oldest=oldest,
        mine=mine,
    )
