"""Wiring of the staff pages into the app: i18n, sign-in, filters, layout data."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, request
from flask_babel import Babel, format_datetime, format_decimal, format_timedelta
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..services.stats import queue_size
from .access import configure_login

SUPPORTED_LOCALES = ("en",)
babel = Babel()


def select_locale() -> str:
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or SUPPORTED_LOCALES[0]


def configure_web(app: Flask) -> None:
    from . import bp

    babel.init_app(app, locale_selector=select_locale)
    configure_login()
    app.register_blueprint(bp)
    app.jinja_env.filters.update(
        number=lambda value: format_decimal(value),
        date=lambda value: format_datetime(value, "medium") if value else "",
        ago=_ago,
        waited=_waited,
    )

    @app.context_processor
    def layout_data():
        from flask_babel import get_locale

        data = {"current_locale": str(get_locale() or "en")}
        try:
            if current_user.is_authenticated:
                data["queue_size"] = queue_size(db.session)
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
