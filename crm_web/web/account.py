"""/account/password and /account/time-zone: every user's own password and time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField, SelectChoice, SelectField
from wtforms.validators import DataRequired, EqualTo, Length

from ..core.extensions import db
from ..core.request_context import client_ip
from ..domain.errors import ValidationError
from ..domain.local_time import zone_label, zone_names
from ..services.preferences import set_timezone
from ..services.users import MIN_PASSWORD, SigninThrottled, change_password
from . import bp
from .access import SESSION_TOKEN, signin_throttle, staff_required
from .forms import CrmForm, apply_errors
from .local_time import app_zone
from .pages import render_form

# Where a user whose password was reset may go before choosing a new one.
OPEN_WHILE_RESET = {"web.change_password", "web.logout", "web.switch_language"}


class PasswordChangeForm(CrmForm):
    """Every user's own change of password."""

    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


@bp.before_request
def password_reset_first():
    """After a supervisor's reset, the one-time password opens only the change page."""
    if (
        current_user.is_authenticated
        and current_user.must_change_password
        and request.endpoint not in OPEN_WHILE_RESET
    ):
        return redirect(url_for("web.change_password"), code=303)
    return None


@bp.route("/account/password", methods=["GET", "POST"], endpoint="change_password")
@staff_required
def change_password_page():
    form = PasswordChangeForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            change_password(
                db.session, current_user.id, form.current_password.data, form.new_password.data,
                keep_token=session.get(SESSION_TOKEN), throttle=signin_throttle(), address=client_ip(),
            )
        except SigninThrottled as exc:
            flash(_("Too many wrong passwords. Wait a few minutes and try again."), "error")
            status, headers = 429, {"Retry-After": str(exc.retry_after)}
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Password changed. You stay signed in here; every other session has ended."), "success")
            return redirect(url_for("web.overview"), code=303)
    return render_form("account/password.html", form, status=status, headers=headers,
                       forced=current_user.must_change_password, min_password=MIN_PASSWORD)


class TimeZoneForm(CrmForm):
    """A user's own time zone; empty: the office's (CRM_TIMEZONE). The service checks the name."""

    timezone = SelectField(_l("Time zone"), validate_choice=False)


def _zone_choices() -> list[SelectChoice]:
    now = datetime.now(UTC)

    def named(name: str) -> str:  # "Europe/Moscow (UTC+3)"; a zone with clock changes by its name alone
        label = zone_label(ZoneInfo(name), now)
        return name if label == name else f"{name} ({label})"

    office = SelectChoice("", _("The office's time zone: %(zone)s", zone=named(app_zone().key)))
    return [office] + [SelectChoice(name, named(name)) for name in sorted(zone_names())]


@bp.route("/account/time-zone", methods=["GET", "POST"], endpoint="account_timezone")
@staff_required
def time_zone_page():
    """Where the user's pages show times and count days; next to the language in the user menu."""
    form = TimeZoneForm(data={"timezone": current_user.timezone or ""})
    form.timezone.choices = _zone_choices()
    if form.validate_on_submit():
        try:
            set_timezone(db.session, current_user.id, form.timezone.data or None)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Time zone saved."), "success")
            return redirect(url_for("web.account_timezone"), code=303)
    return render_form("account/time_zone.html", form)
