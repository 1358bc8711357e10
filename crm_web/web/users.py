"""/users: staff accounts, their roles and linked operators (supervisors)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectChoice, SelectField
from wtforms.validators import DataRequired, Length

from ..core.extensions import db
from ..domain.errors import Conflict, Forbidden, ValidationError
from ..services import users as service
from ..services.operators import all_operators
from ..services.users import MIN_PASSWORD
from ..services.validation import MAX_ID
from . import bp
from .access import signed_in_user, supervisor_required
from .forms import CrmForm, EmailAddressField, EmptyForm, apply_errors, submitted_or_400
from .pages import render_form
from .validators import int_in

NO_OPERATOR = 0


class UserForm(CrmForm):
    email = EmailAddressField(_l("Email"), validators=[DataRequired(), Length(max=320)])
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice("operator", _l("Operator")), SelectChoice("supervisor", _l("Supervisor"))],
    )
    operator_id = SelectField(
        _l("Works as operator"), coerce=int_in(NO_OPERATOR, MAX_ID), validate_choice=False
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=1024)])


@bp.get("/users")
@supervisor_required
def users():
    return render_template("users/list.html", users=service.all_users(db.session), form=EmptyForm())


@bp.route("/users/new", methods=["GET", "POST"])
@supervisor_required
def new_user():
    form = UserForm()
    operators = all_operators(db.session)
    form.operator_id.choices = [SelectChoice(NO_OPERATOR, _("— none —"))] + [
        SelectChoice(op.id, op.name) for op in operators
    ]
    # ?operator_id=N (the operator's next steps): that operator's own sign-in, preselected.
    preselected = request.args.get("operator_id", type=int)
    if not form.is_submitted() and any(op.id == preselected for op in operators):
        form.operator_id.data, form.role.data = preselected, "operator"
    if form.validate_on_submit():
        try:
            user = service.create_user(
                db.session,
                form.email.data,
                form.role.data,
                form.password.data,
                form.operator_id.data or None,
            )
        except (ValidationError, Conflict) as exc:
            apply_errors(form, exc, conflict_field="email")
        else:
            flash(_("User %(email)s created. They can sign in now.", email=user.email), "success")
            return redirect(url_for("web.users"), code=303)
    return render_form("users/form.html", form)


@bp.post("/users/<int:user_id>/enabled")
@supervisor_required
def toggle_user(user_id: int):
    user = service.get_user(db.session, user_id)
    if EmptyForm().validate_on_submit():
        enable = not user.is_enabled
        try:
            service.set_user_enabled(db.session, user_id, enable, signed_in_user())
        except Forbidden:
            flash(_("You cannot disable your own account."), "error")
        else:
            flash(
                _("%(email)s can sign in again.", email=user.email)
                if enable
                else _("%(email)s is disabled: no sign-in, no API access.", email=user.email),
                "success",
            )
    return redirect(url_for("web.users"), code=303)


@bp.post("/users/<int:user_id>/password")
@supervisor_required
def reset_password(user_id: int):
    """A one-time password, shown once on the answer page (never in a cookie or a redirect)."""
    submitted_or_400(EmptyForm)
    try:
        user, one_time = service.reset_password(db.session, user_id, signed_in_user())
    except Forbidden:
        flash(_("Change your own password on the Change password page."), "error")
        return redirect(url_for("web.users"), code=303)
    page = render_template("users/password_reset.html", user=user, one_time_password=one_time)
    return page, 200, {"Cache-Control": "no-store"}
