"""Who may see what: sign-in, its throttle and sessions, and role checks shared by every page."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Flask, abort, current_app, g, session
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import login_manager
from ..models import User
from ..services.signin_throttle import SigninThrottle
from ..services.user_sessions import Lifetime, session_user


def staff_required(view):
    """Any signed-in staff member; anonymous visitors go to /login."""
    return login_required(view)


def supervisor_required(view):
    """Supervisors only; operator users get 403."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_supervisor:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


SESSION_TOKEN = "sid"  # the cookie session's key for the server-side session's token


def session_lifetime() -> Lifetime:
    config = current_app.config
    return Lifetime(
        idle=timedelta(hours=config["CRM_SESSION_IDLE_HOURS"]),
        longest=timedelta(days=config["CRM_SESSION_MAX_DAYS"]),
    )


def signin_throttle() -> SigninThrottle:
    """The app's throttle (its counts are in the database: every worker and host shares them)."""
    throttle = current_app.extensions.get("crm_signin_throttle")
    if throttle is None:
        config = current_app.config
        throttle = SigninThrottle(
            config["CRM_LOGIN_MAX_FAILURES_ACCOUNT"],
            config["CRM_LOGIN_MAX_FAILURES_ADDRESS"],
            config["CRM_LOGIN_THROTTLE_MINUTES"],
        )
        current_app.extensions["crm_signin_throttle"] = throttle
    return throttle


def configure_login(app: Flask) -> None:
    from ..core.extensions import db

    login_manager.login_view = "web.login"
    login_manager.login_message = None  # the login page explains itself
    # The signed cookie itself expires no later than the session it names.
    app.permanent_session_lifetime = timedelta(days=app.config["CRM_SESSION_MAX_DAYS"])

    @login_manager.user_loader
    def load_user(user_id: str):
        if g.get("user_unloadable"):
            return None  # see below: the error page is shown as to a visitor
        try:
            user_id_number = int(user_id)
        except ValueError:
            return None
        try:
            user = session_user(db.session, user_id_number, session.get(SESSION_TOKEN), session_lifetime())
        except SQLAlchemyError:
            # The database is away: the request fails (503), and its error page,
            # which asks for the user again, must not fail the same way.
            db.session.rollback()
            g.user_unloadable = True
            raise
        return user


def signed_in_user() -> User | None:
    """The signed-in `User` itself (not the `current_user` proxy), to hand to services.

    The loader put it in the ORM session's identity map: no query.
    """
    from ..core.extensions import db

    if not current_user.is_authenticated:  # also loads the user
        return None
    return db.session.get(User, int(current_user.get_id()))
