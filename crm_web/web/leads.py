"""/leads: search; one lead with its history; possible duplicates and merging them (supervisors)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from wtforms import HiddenField
from wtforms.validators import InputRequired

from ..core.extensions import db
from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.search import parse_query
from ..services.leads import lead_with_history, possible_duplicates, search_leads
from ..services.merge import AlreadyMerged, dismiss_pair, list_duplicate_pairs, merge_leads, preview_merge
from . import bp
from .access import staff_required, supervisor_required
from .forms import BoundedIntegerField, CrmForm, submitted_or_400
from .i18n import translate
from .pages import PER_PAGE, after_arg, int_arg, page_arg, safe_next


@bp.get("/leads")
@staff_required
def leads():
    q = request.args.get("q", "")
    region = current_app.config["CRM_PHONE_REGION"]
    try:
        query = parse_query(q, region)
        page = search_leads(db.session, q, region, page_arg(), PER_PAGE, after_arg())
    except ValidationError as exc:
        return render_template("leads/list.html", q=q, page=None, errors=[translate(exc.message)]), 422
    return render_template(
        "leads/list.html", q=query.raw, page=page, errors=[], too_short=bool(query.raw) and query.too_short
    )


@bp.get("/leads/<int:lead_id>")
@staff_required
def lead(lead_id: int):
    lead = lead_with_history(db.session, lead_id)
    return render_template(
        "leads/detail.html", lead=lead, duplicates=possible_duplicates(db.session, lead_id)
    )


# --- possible duplicates and merging (supervisors) ---------------------------


class MergeForm(CrmForm):
    """Confirm a merge previewed with `token` (the leads' state when the preview was shown)."""

    keep = BoundedIntegerField(validators=[InputRequired()])
    other = BoundedIntegerField(validators=[InputRequired()])
    token = HiddenField(validators=[InputRequired()])


class DismissForm(CrmForm):
    lead = BoundedIntegerField(validators=[InputRequired()])
    other = BoundedIntegerField(validators=[InputRequired()])


@bp.get("/leads/duplicates")
@supervisor_required
def duplicates():
    page = list_duplicate_pairs(db.session, page_arg(), PER_PAGE, after_arg())
    return render_template("leads/duplicates.html", page=page)


@bp.get("/leads/merge")
@supervisor_required
def merge_preview():
    keep, other = int_arg("keep"), int_arg("other")
    if keep is None or other is None:
        abort(404)
    # A lead into itself is a ValidationError, the 422 page: the pages never offer it.
    try:
        plan = preview_merge(db.session, keep, other)
    except Conflict as exc:
        return _merge_problem(exc)
    return render_template("leads/merge_preview.html", plan=plan, problem=None)


@bp.post("/leads/merge")
@supervisor_required
def merge_confirm():
    form = submitted_or_400(MergeForm)
    keep, other = form.keep.data, form.other.data
    try:
        result = merge_leads(db.session, keep, other, form.token.data)
    except Conflict as exc:
        return _preview_again(keep, other, exc) if exc.code == "changed" else _merge_problem(exc)
    flash(ngettext(
        "Lead #%(other)s merged into this one; %(num)d contact moved.",
        "Lead #%(other)s merged into this one; %(num)d contacts moved.",
        result.moved_contacts, other=result.merged_lead_id,
    ), "success")
    return redirect(url_for("web.lead", lead_id=result.kept_id), code=303)


def _preview_again(keep: int, other: int, exc: Conflict):
    """The leads changed since the preview: 409 with what the merge would do now (the user's choice)."""
    try:
        plan = preview_merge(db.session, keep, other)
    except (NotFound, Conflict) as again:
        return _merge_problem(again if isinstance(again, Conflict) else exc)
    problem = _("The leads changed since you looked (a new request or another merge). "
                "Check the preview again before you confirm.")
    return render_template("leads/merge_preview.html", plan=plan, problem=problem), 409


def _merge_problem(exc: Conflict):
    """A lead merged away meanwhile (another supervisor, or a second click): 409 with a way on."""
    if isinstance(exc, AlreadyMerged):
        problem = _("Lead #%(id)s was already merged into lead #%(kept)s.", id=exc.lead_id, kept=exc.kept_id)
        kept = exc.kept_id
    else:
        problem, kept = _("One of the leads changed meanwhile; look again."), None
    return render_template("leads/merge_preview.html", plan=None, problem=problem, kept=kept), 409


@bp.post("/leads/duplicates/dismiss")
@supervisor_required
def dismiss_duplicate():
    form = submitted_or_400(DismissForm)
    try:
        dismiss_pair(db.session, form.lead.data, form.other.data)
    except NotFound:
        flash(_("That pair was already dismissed or merged."), "warning")
    else:
        flash(_("Lead #%(a)s and lead #%(b)s are no longer listed as possible duplicates.",
                a=form.lead.data, b=form.other.data), "success")
    back = safe_next(request.form.get("next")) or url_for("web.duplicates")
    return redirect(back, code=303)
