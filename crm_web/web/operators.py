"""/operators: list, create, edit, delete (supervisors)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from ..core.extensions import db
from ..domain.errors import Conflict, ValidationError
from ..domain.messages import N_
from ..models import Operator
from ..services import operators as service
from . import bp
from .access import supervisor_required
from .forms import BoundedIntegerField, CrmForm, EmptyForm, apply_errors
from .pages import render_form
from .toggles import OPERATOR_FLASHES, toggle_active


class OperatorForm(CrmForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    max_load = BoundedIntegerField(
        _l("Maximum load"),
        validators=[InputRequired()],
        min=0,
        max=10_000,
        description=_l("How many active contacts this operator may hold at once (0–10000)."),
    )
    is_active = BooleanField(_l("Active (receives new contacts)"), default=True)


@bp.get("/operators")
@supervisor_required
def operators():
    return render_template("operators/list.html", operators=service.all_operators(db.session),
                           form=EmptyForm())


@bp.route("/operators/new", methods=["GET", "POST"])
@supervisor_required
def new_operator():
    create = partial(service.create_operator, db.session)
    # A new operator gets nothing until they have a sign-in and weights: their page says how (next steps).
    return _form_page(OperatorForm(), create, N_("Operator %(name)s created."), operator=None,
                      landing=lambda saved: url_for("web.edit_operator", operator_id=saved.id))


@bp.route("/operators/<int:operator_id>/edit", methods=["GET", "POST"])
@supervisor_required
def edit_operator(operator_id: int):
    operator = service.get_operator(db.session, operator_id)
    update = partial(service.update_operator, db.session, operator_id)
    return _form_page(OperatorForm(obj=operator), update, N_("Operator %(name)s saved."), operator=operator)


@bp.route("/operators/<int:operator_id>/delete", methods=["GET", "POST"])
@supervisor_required
def delete_operator(operator_id: int):
    operator = service.get_operator(db.session, operator_id)
    form = EmptyForm()
    if form.validate_on_submit():
        released = service.delete_operator(db.session, operator_id)
        flash(
            ngettext("Operator %(name)s deleted; %(num)d active contact went back to the queue.",
                     "Operator %(name)s deleted; %(num)d active contacts went back to the queue.",
                     released, name=operator.name),
            "success",
        )
        return redirect(url_for("web.operators"), code=303)
    return render_template("operators/delete.html", operator=operator, form=form)


@bp.post("/operators/<int:operator_id>/active")
@supervisor_required
def toggle_operator(operator_id: int):
    operator = service.get_operator(db.session, operator_id)
    return toggle_active(operator, service.update_operator, OPERATOR_FLASHES, back="web.operators")


def _form_page(
    form: OperatorForm,
    save: Callable[[dict], Operator],
    done: str,
    operator: Operator | None,
    landing: Callable[[Operator], str] | None = None,
):
    """The create and the edit page: a valid post goes through `save` (the service), flashes `done`
    (its %(name)s: the name as saved) and goes to `landing` (default: the list); else the form again,
    with the service's errors on it. The edit page also shows what the operator still lacks."""
    if form.validate_on_submit():
        try:
            saved = save(_operator_data(form))
        except (ValidationError, Conflict) as exc:
            apply_errors(form, exc, conflict_field="name")
        else:
            flash(_(done, name=saved.name), "success")
            return redirect(landing(saved) if landing else url_for("web.operators"), code=303)
    setup = service.operator_setup(db.session, operator.id) if operator else None
    return render_form("operators/form.html", form, operator=operator, setup=setup)


def _operator_data(form: OperatorForm) -> dict:
    return {"name": form.name.data, "max_load": form.max_load.data, "is_active": form.is_active.data}

