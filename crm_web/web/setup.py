"""Wiring of the staff pages into the app: i18n, sign-in, filters, layout data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, current_app, url_for
from flask_babel import Babel, format_datetime, format_timedelta
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import db
from ..domain.phone_display import display_phone
from ..services.preferences import SUPPORTED_LOCALES
from .access import configure_login
from .i18n import LANGUAGE_NAMES, compile_catalogs, read_back, select_locale
from .live import PATH as LIVE_PATH
from .live import POLL_MS, SPREAD_MS, configure_live, page_live_state, ticket_for
from .local_time import select_timezone, zone_data
from .numbers import decimal_text, number_text, percent_text

__all__ = ["SUPPORTED_LOCALES", "babel", "configure_web", "select_locale"]

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
babel = Babel()


def configure_web(app: Flask) -> None:
    from . import bp

    compile_catalogs(TRANSLATIONS)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    configure_login(app)
    app.register_blueprint(bp)
    configure_live(app)
    app.jinja_env.filters.update(
        number=number_text,
        decimal=decimal_text,
        percent=percent_text,
        date=lambda value: format_datetime(value, "medium") if value else "",
        ago=_ago,
        waited=_waited,
        translated=_translated,
        phone=lambda value: display_phone(value) if value else "",
    )

    @app.context_processor
    def layout_data():
        from flask_babel import get_locale

        data = {
            "current_locale": str(get_locale() or "en"),
            "languages": [(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LOCALES],
            **zone_data(),
        }
        try:
            if current_user.is_authenticated:
                state = page_live_state()
                data["queue_size"] = state.waiting
                data["live"] = {
                    "url": f"{LIVE_PATH}?t={ticket_for(current_user)}",
                    "renew": url_for("web.live_ticket"),
                    "state": state.as_json(),
                    "interval": POLL_MS,
                    "spread": SPREAD_MS,
                    "stream": current_app.config["CRM_LIVE_STREAM_URL"],
                }
        except SQLAlchemyError:  # an error page must render even without a database
            db.session.rollback()
        return data



def _since(value: datetime) -> str:
    return format_timedelta(datetime.now(UTC) - value, threshold=1.1)


def _ago(value: datetime | None) -> str:
    from flask_babel import gettext as _

    return _("%(time)s ago", time=_since(value)) if value else ""


def _waited(value: datetime | None) -> str:
    return _since(value) if value else ""


def _translated(text: str | None) -> str:
    """A message stored in English (a contact's warnings) in the page's language (i18n.read_back)."""
    return read_back(text) if text else ""
