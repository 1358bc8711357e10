"""/tokens: every signed-in user lists, issues and revokes its own API tokens."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import Length, Optional

from ..core.extensions import db
from ..domain.errors import ValidationError
from ..models import utcnow
from ..services import users as service
from . import bp
from .access import signed_in_user, staff_required
from .forms import BoundedIntegerField, CrmForm, EmptyForm, apply_errors, submitted_or_400
from .pages import render_form


class TokenForm(CrmForm):
    label = StringField(
        _l("Label"),
        validators=[Optional(), Length(max=service.MAX_TOKEN_LABEL)],
        description=_l("What the token is for, e.g. the integration that uses it."),
    )
    expires_in_days = BoundedIntegerField(
        _l("Expires after (days)"),
        validators=[Optional()],
        min=1,
        max=service.MAX_TOKEN_DAYS,
        description=_l("Leave empty for a token that never expires."),
    )


def _page(form: TokenForm, new_token: str | None = None, status: int = 200):
    tokens = service.tokens_of(db.session, signed_in_user())
    # The page with a new secret must not be kept by the browser or a proxy.
    return render_form(
        "tokens/list.html",
        form,
        status=status,
        headers={"Cache-Control": "no-store"},
        tokens=tokens,
        new_token=new_token,
        now=utcnow(),
    )


@bp.get("/tokens")
@staff_required
def tokens():
    return _page(TokenForm(formdata=None))


@bp.post("/tokens")
@staff_required
def issue_token():
    form = TokenForm()
    if form.validate_on_submit():
        try:
            token = service.issue_token_for_days(
                db.session, signed_in_user(), form.label.data, form.expires_in_days.data
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            # Shown on this answer only: there is no way to read it again.
            return _page(TokenForm(formdata=None), new_token=token)
    return _page(form, status=400)  # 422 when the form has errors


@bp.post("/tokens/<int:token_id>/revoke")
@staff_required
def revoke_token(token_id: int):
    submitted_or_400(EmptyForm)
    token = service.revoke_token(db.session, token_id, signed_in_user(), own_only=True)
    flash(_("Token #%(id)s is revoked: it no longer works.", id=token.id), "success")
    return redirect(url_for("web.tokens"), code=303)
