"""/leads: search by phone, email, external id or name; one lead with its history."""

from __future__ import annotations

from flask import abort, current_app, render_template, request
from flask_babel import gettext as _

from ..extensions import db
from ..services.errors import NotFound, ValidationError
from ..services.leads import MAX_QUERY, lead_with_history, possible_duplicates, search_leads
from . import bp
from .access import staff_required
from .queue import PER_PAGE, after_arg, page_arg


@bp.get("/leads")
@staff_required
def leads():
    q = request.args.get("q", "")
    try:
        page = search_leads(
            db.session, q, current_app.config["CRM_PHONE_REGION"], page_arg(), PER_PAGE, after_arg()
        )
    except ValidationError:
        error = _("Search for at most %(num)d characters.", num=MAX_QUERY)
        return render_template("leads/list.html", q=q, page=None, errors=[error]), 422
    return render_template("leads/list.html", q=q.strip(), page=page, errors=[])


@bp.get("/leads/<int:lead_id>")
@staff_required
def lead(lead_id: int):
    try:
        lead = lead_with_history(db.session, lead_id)
    except NotFound:
        abort(404)
    return render_template(
        "leads/detail.html", lead=lead, duplicates=possible_duplicates(db.session, lead_id)
    )
