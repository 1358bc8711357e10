"""Friendly error pages for the HTML side (the API and webhook answer JSON)."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _


def error_page(status: int):
    titles = {
        400: (
            _("Bad request"),
            _("The form was incomplete or has expired. Go back, reload the page and try again."),
        ),
        403: (_("Not allowed"), _("Your role may not open this page. Ask a supervisor if you need it.")),
        404: (_("Not found"), _("There is nothing at this address. It may have been deleted.")),
        405: (_("Not allowed"), _("This address does not accept that kind of request.")),
        413: (_("Too large"), _("What you sent is too large.")),
        429: (_("Slow down"), _("Too many attempts. Wait a minute and try again.")),
        500: (_("Something went wrong"), _("The error was logged. Try again in a moment.")),
        503: (_("Temporarily unavailable"), _("The database is not answering. Try again in a moment.")),
    }
    title, text = titles.get(status, (_("Error"), _("Something went wrong.")))
    return render_template("errors/error.html", status=status, title=title, text=text), status
