"""The Active buttons of the operators and sources lists: pause or resume, enable or disable.

Their flash texts live here, beside the one view helper that shows them. (Not in pages.py: it
cannot import forms.py, which imports i18n.py, which imports pages.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from flask import flash, redirect, request, url_for
from flask_babel import gettext
from sqlalchemy.orm import Session

from ..core.extensions import db
from ..domain.messages import N_
from .forms import EmptyForm


class Flashes(NamedTuple):
    """What the flash says once the button has flipped the flag; `%(name)s` is the row's name."""

    on: str
    off: str


OPERATOR_FLASHES = Flashes(on=N_("%(name)s now receives new contacts."),
                           off=N_("%(name)s is paused and receives no new contacts."))
SOURCE_FLASHES = Flashes(on=N_("%(name)s is enabled and accepts webhooks."),
                         off=N_("%(name)s is disabled: its webhook answers 404."))


def toggle_active(row: Any, update: Callable[[Session, int, dict], Any], flashes: Flashes, *, back: str):
    """POST .../active: flip `row.is_active` through its service's `update(session, id, values)`,
    flash what the new state means, and go back (303) to the page the button was on, else to the
    endpoint `back`. A post that fails the CSRF check changes nothing and goes back the same way.
    """
    if EmptyForm().validate_on_submit():
        active = not row.is_active
        update(db.session, row.id, {"is_active": active})
        flash(gettext(flashes.on if active else flashes.off, name=row.name), "success")
    return redirect(request.referrer or url_for(back), code=303)
