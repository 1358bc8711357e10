"""Sign-in and sign-out."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..extensions import db
from ..services.users import get_user_by_email, verify_password
from . import bp
from .forms import LoginForm
from .queue import safe_next


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.overview"))
    form = LoginForm()
    if form.validate_on_submit():
        user = get_user_by_email(db.session, form.email.data)
        # One message for every failure: it must not tell which part was wrong.
        if user is not None and verify_password(user, form.password.data) and user.is_enabled:
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or url_for("web.overview"), code=303)
        flash(_("Wrong email or password."), "error")
    elif request.method == "POST":
        flash(_("Enter your email and password."), "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("You are signed out."), "success")
    return redirect(url_for("web.login"), code=303)
