"""Friendly error pages for the HTML side (the API and webhook answer JSON)."""

from __future__ import annotations

from contextlib import suppress

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from ..core.request_context import request_id


def error_page(status: int):
    titles = {
        400: (
            _("Bad request"),
            _("The form was incomplete or has expired. Go back, reload the page and try again."),
        ),
        403: (_("Not allowed"), _("Your role may not open this page. Ask a supervisor if you need it.")),
        404: (_("Not found"), _("There is nothing at this address. It may have been deleted.")),
        405: (_("Not allowed"), _("This address does not accept that kind of request.")),
        413: (
            _("Request too large"),
            _("What you sent is more than the server accepts. Shorten the text and try again."),
        ),
        429: (_("Slow down"), _("Too many attempts. Wait a minute and try again.")),
        500: (_("Something went wrong"), _("The error was logged. Try again in a moment.")),
        503: (_("Temporarily unavailable"), _("The database is not answering. Try again in a moment.")),
    }
    title, text = titles.get(status, (_("Error"), _("Something went wrong.")))
    # Loading the signed-in user for the layout may be what failed (the
    # database is away); the user loader then answers "a visitor" (web/access.py).
    with suppress(SQLAlchemyError):
        current_user.is_authenticated  # noqa: B018 - loads and caches the user
    page = render_template(
        "errors/error.html", status=status, title=title, text=text, request_id=request_id()
    )
    return page, status
