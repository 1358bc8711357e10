"""/operators: list, create, edit, delete (supervisors)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..services import operators as service
from ..services.errors import Conflict, NotFound, ValidationError
from . import bp
from .access import supervisor_required
from .forms import EmptyForm, OperatorForm
from .formutil import apply_errors


def _operator_or_404(operator_id: int):
    try:
        return service.get_operator(db.session, operator_id)
    except NotFound:
        abort(404)


@bp.get("/operators")
@supervisor_required
def operators():
    return render_template("operators/list.html", operators=service.all_operators(db.session),
                           form=EmptyForm())


@bp.route("/operators/new", methods=["GET", "POST"])
@supervisor_required
def new_operator():
    form = OperatorForm()
    if form.validate_on_submit():
        try:
            operator = service.create_operator(db.session, _operator_data(form))
        except (ValidationError, Conflict) as exc:
            apply_errors(form, exc, conflict_field="name")
        else:
            flash(_("Operator %(name)s created.", name=operator.name), "success")
            return redirect(url_for("web.operators"), code=303)
    return render_template("operators/form.html", form=form, operator=None), _status(form)


@bp.route("/operators/<int:operator_id>/edit", methods=["GET", "POST"])
@supervisor_required
def edit_operator(operator_id: int):
    operator = _operator_or_404(operator_id)
    form = OperatorForm(obj=operator)
    if form.validate_on_submit():
        try:
            service.update_operator(db.session, operator_id, _operator_data(form))
        except (ValidationError, Conflict) as exc:
            apply_errors(form, exc, conflict_field="name")
        else:
            flash(_("Operator %(name)s saved.", name=form.name.data.strip()), "success")
            return redirect(url_for("web.operators"), code=303)
    return render_template("operators/form.html", form=form, operator=operator), _status(form)


@bp.route("/operators/<int:operator_id>/delete", methods=["GET", "POST"])
@supervisor_required
def delete_operator(operator_id: int):
    operator = _operator_or_404(operator_id)
    form = EmptyForm()
    if form.validate_on_submit():
        released = service.delete_operator(db.session, operator_id)
        flash(
            _("Operator %(name)s deleted; %(n)d active contacts went back to the queue.",
              name=operator.name, n=released),
            "success",
        )
        return redirect(url_for("web.operators"), code=303)
    return render_template("operators/delete.html", operator=operator, form=form)


@bp.post("/operators/<int:operator_id>/active")
@supervisor_required
def toggle_operator(operator_id: int):
    operator = _operator_or_404(operator_id)
    if EmptyForm().validate_on_submit():
        resume = not operator.is_active
        service.update_operator(db.session, operator_id, {"is_active": resume})
        flash(
            _("%(name)s now receives new contacts.", name=operator.name) if resume
            else _("%(name)s is paused and receives no new contacts.", name=operator.name),
            "success",
        )
    return redirect(request.referrer or url_for("web.operators"), code=303)


def _operator_data(form: OperatorForm) -> dict:
    return {"name": form.name.data, "max_load": form.max_load.data, "is_active": form.is_active.data}


def _status(form) -> int:
    return 422 if form.errors else 200
