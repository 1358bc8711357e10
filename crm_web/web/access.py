"""Who may see what: sign-in and role checks shared by every page."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from ..extensions import login_manager


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


def configure_login() -> None:
    from ..extensions import db
    from ..models import User

    login_manager.login_view = "web.login"
    login_manager.login_message = None  # the login page explains itself

    @login_manager.user_loader
    def load_user(user_id: str):
        try:
            return db.session.get(User, int(user_id))
        except ValueError:
            return None
