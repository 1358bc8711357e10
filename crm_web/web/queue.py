"""/queue: unassigned contacts, oldest first, assigned inline (htmx) or by plain POST."""

from __future__ import annotations

from flask import current_app, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup, escape
from wtforms import HiddenField
from wtforms.validators import InputRequired, Optional

from ..core.extensions import db
from ..domain.coverage import Gap
from ..domain.errors import Conflict, ValidationError
from ..services import contacts as service
from ..services.contacts import ContactFilters
from ..services.drain import drain_queue, queue_weight_gaps
from ..services.operators import get_operator
from ..services.stats import queue_size
from . import bp
from .access import signed_in_user, staff_required, supervisor_required
from .forms import BoundedIntegerField, CrmForm, EmptyForm, submitted_or_400
from .pages import PER_PAGE, assignable_operators, found_or_none, page_arg, safe_next, wants_fragment
from .validators import MAX_PAGE

# One click hands out at most this many (a request must stay short); click again for more.
PAGE_DRAIN_LIMIT = 1000
# Operators named when nothing could be distributed; the rest are counted.
GAPS_SHOWN = 5


class AssignForm(CrmForm):
    """Queue and contact page: give an unassigned contact to an operator (or take it)."""

    operator_id = BoundedIntegerField(
        _l("Operator"), validators=[InputRequired(message=_l("Choose an operator."))]
    )
    page = BoundedIntegerField(validators=[Optional()], max=MAX_PAGE)
    next = HiddenField()


@bp.get("/queue")
@staff_required
def queue():
    if wants_fragment():
        return _fragment(page_arg())
    response = make_response(render_template("queue/list.html", **_queue_context(page_arg())))
    response.vary.add("HX-Request")  # the same URL also answers with the fragment
    return response


@bp.post("/queue/<int:contact_id>/assign")
@staff_required
def assign_contact(contact_id: int):
    form = AssignForm()
    took = False
    if not form.validate_on_submit():
        message = (form.operator_id.errors or form.page.errors or [_("Choose an operator.")])[0]
        category = "error"
    else:
        operator_id = form.operator_id.data
        # Forbidden stays the 403 page: the pages never offer it (operators take only for themselves).
        try:
            contact = service.assign_manually(db.session, contact_id, operator_id, signed_in_user())
        except (Conflict, ValidationError) as exc:
            message, category = _assign_error(exc, contact_id, operator_id), "error"
        else:
            took = operator_id == current_user.operator_id
            if took:
                message = _("You took contact #%(id)s.", id=contact_id)
            else:
                message = _(
                    "Contact #%(id)s assigned to %(name)s.", id=contact_id, name=contact.operator.name
                )
            category = "success"
    if took:
        # Who takes a contact works on it next: straight to its page (htmx: a full navigation).
        flash(message, category)
        target = url_for("web.contact", contact_id=contact_id)
        if wants_fragment():
            response = make_response("", 204)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target, code=303)
    if wants_fragment():
        return _fragment(form.page.data or 1, message, category)
    flash(message, category)
    back = safe_next(form.next.data) or url_for("web.queue", page=form.page.data or None)
    return redirect(back, code=303)


@bp.post("/queue/drain")
@supervisor_required
def drain():
    """Distribute the queue: oldest first, by the sources' weights, up to free capacity."""
    submitted_or_400(EmptyForm)
    result = drain_queue(db.session, current_app.extensions["crm_rng"], limit=PAGE_DRAIN_LIMIT)
    left = queue_size(db.session)
    if result.assigned:
        flash(
            ngettext(
                "%(num)d contact distributed; %(left)d still in the queue.",
                "%(num)d contacts distributed; %(left)d still in the queue.",
                result.assigned,
                left=left,
            ),
            "success",
        )
    elif gaps := queue_weight_gaps(db.session):
        flash(_("No contact could be distributed; %(left)d still in the queue.", left=left), "error")
        for gap in gaps[:GAPS_SHOWN]:
            flash(_gap_message(gap), "warning")
        if len(gaps) > GAPS_SHOWN:
            more = len(gaps) - GAPS_SHOWN
            flash(ngettext("%(num)d more operator has free places but no weights for them.",
                           "%(num)d more operators have free places but no weights for them.", more),
                  "warning")
    else:
        flash(
            _("Nobody with free capacity for the queued contacts; %(left)d still in the queue.", left=left),
            "error",
        )
    return redirect(url_for("web.queue"), code=303)


def _gap_message(gap: Gap) -> Markup:
    """Who is free but has no weight for which waiting sources, each linked to its weight table."""
    operator = gap.operator
    links = Markup(", ").join(
        Markup('<a href="{}#weight-{}">{}</a>').format(
            url_for("web.weights", source_id=source.id), operator.id, _("“%(name)s”", name=source.name)
        )
        for source in gap.sources
    )
    # The catalog's text is ours; every value put into it is escaped first.
    return Markup(ngettext(
        "%(name)s has free places (%(free)s of %(max)s) but no weight for %(sources)s; "
        "add the operator to its weight table.",
        "%(name)s has free places (%(free)s of %(max)s) but no weight for %(sources)s; "
        "add the operator to their weight tables.",
        len(gap.sources),
        name=escape(operator.name), free=operator.free, max=operator.max_load, sources=links,
    ))


def _assign_error(exc: Exception, contact_id: int, operator_id: int) -> str:
    """A race lost or a stale choice, said plainly (the service changed nothing)."""
    code = getattr(exc, "code", None)
    if code == "not_unassigned":
        return _(
            "Contact #%(id)s was already taken or closed by someone else; nothing changed.", id=contact_id
        )
    operator = found_or_none(get_operator, operator_id)
    if operator is None:
        return _("That operator no longer exists; choose another one.")
    if code == "operator_at_capacity":
        return _(
            "%(name)s has no free capacity any more; contact #%(id)s is still in the queue.",
            name=operator.name,
            id=contact_id,
        )
    if code == "operator_inactive":
        return _(
            "%(name)s is paused and takes no contacts; contact #%(id)s is still in the queue.",
            name=operator.name,
            id=contact_id,
        )
    return _("Contact #%(id)s could not be assigned; nothing changed.", id=contact_id)


def _queue_context(page_number: int) -> dict:
    filters = ContactFilters(status="unassigned")
    page = service.list_contacts(db.session, filters, page_number, PER_PAGE)
    if page.page > page.pages:  # the last page emptied meanwhile
        page = service.list_contacts(db.session, filters, page.pages, PER_PAGE)
    me = found_or_none(get_operator, current_user.operator_id) if current_user.operator_id else None
    return {
        "page": page,
        "operators": assignable_operators() if current_user.is_supervisor else [],
        "me": me,
        "drain_form": EmptyForm() if current_user.is_supervisor else None,
    }


def _fragment(page_number: int, message: str | None = None, category: str | None = None):
    """The table alone, plus out-of-band updates of the message and the nav badge."""
    response = make_response(
        render_template(
            "queue/_rows.html", oob=True, message=message, category=category, **_queue_context(page_number)
        )
    )
    response.vary.add("HX-Request")
    return response
