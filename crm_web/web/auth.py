"""Sign-in and sign-out."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from ..core.extensions import db
from ..core.request_context import client_ip
from ..services.user_sessions import end_session, start_session
from ..services.users import SigninFailed, SigninThrottled, sign_in
from . import bp
from .access import SESSION_TOKEN, session_lifetime, signin_throttle
from .forms import CrmForm, EmailAddressField
from .pages import safe_next


class LoginForm(CrmForm):
    # "username": what password managers fill in beside the password.
    email = EmailAddressField(_l("Email"), validators=[DataRequired(), Length(max=320)],
                              render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.overview"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = sign_in(db.session, form.email.data, form.password.data, signin_throttle(), client_ip())
        except SigninThrottled as exc:
            # The same answer whether or not the account exists.
            flash(_("Too many failed sign-ins. Wait a few minutes and try again."), "error")
            page = render_template("auth/login.html", form=form)
            return page, 429, {"Retry-After": str(exc.retry_after)}
        except SigninFailed:
            # One message for every failure: it must not tell which part was wrong.
            flash(_("Wrong email or password."), "error")
        else:
            _start_session(user)
            return redirect(safe_next(request.args.get("next")) or url_for("web.overview"), code=303)
    elif request.method == "POST":
        flash(_("Enter your email and password."), "error")
    return render_template("auth/login.html", form=form)


def _start_session(user) -> None:
    """A new session: nothing of the signed-out one carries over, its CSRF secret included.

    The language choice lives in its own cookie, so it stays.
    """
    session.clear()
    session[SESSION_TOKEN] = start_session(db.session, user, session_lifetime())
    login_user(user)


@bp.post("/logout")
def logout():
    end_session(db.session, session.get(SESSION_TOKEN))
    session.clear()
    logout_user()  # after clear(): it leaves the flag that deletes a remember-me cookie
    flash(_("You are signed out."), "success")
    return redirect(url_for("web.login"), code=303)
