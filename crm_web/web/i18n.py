"""The pages' language: who chose which, the switcher, catalogs, and service messages translated."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import abort, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import db
from ..domain.messages import Message
from ..services.preferences import SUPPORTED_LOCALES, set_locale
from . import bp
from .pages import safe_next

LOCALE_COOKIE = "crm_locale"
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600
# Each language named in itself, so that a reader of neither finds their own.
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}
# Machine clients always get the contract's English, whatever their Accept-Language.
ENGLISH_ONLY_BLUEPRINTS = frozenset({"api", "webhooks", "health"})

log = logging.getLogger(__name__)


def select_locale() -> str:
    """The signed-in user's choice, else the visitor's cookie, else Accept-Language, else English."""
    if request.blueprint in ENGLISH_ONLY_BLUEPRINTS:
        return SUPPORTED_LOCALES[0]
    chosen = _user_locale() or request.cookies.get(LOCALE_COOKIE)
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return browser_locale()


def browser_locale() -> str:
    """The browser's Accept-Language, q-values honoured (`ru-RU` is Russian), else English."""
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or SUPPORTED_LOCALES[0]


def _user_locale() -> str | None:
    try:
        return current_user.locale if current_user.is_authenticated else None
    except SQLAlchemyError:  # an error page must render even without a database
        db.session.rollback()
        return None


def translate(message: str) -> str:
    """A service's English message in the page's language (the API sends it as it is)."""
    if isinstance(message, Message):
        return gettext(message.template, **message.params) if message.params else gettext(message.template)
    return gettext(message) if message else message


@bp.post("/language")
def switch_language():
    """Remember the chosen language: on the user when signed in, in a cookie for everyone."""
    # CSRFProtect has already refused a post without a valid token (400).
    locale = request.form.get("locale")
    if locale not in SUPPORTED_LOCALES:
        abort(400)
    back = safe_next(request.form.get("next")) or url_for("web.overview")
    if current_user.is_authenticated:
        set_locale(db.session, current_user.id, locale)
    response = redirect(back, code=303)
    response.set_cookie(
        LOCALE_COOKIE, locale, max_age=LOCALE_COOKIE_MAX_AGE, samesite="Lax", httponly=True,
        secure=request.is_secure,
    )
    return response


def compile_catalogs(directory: Path) -> None:
    """Compile each messages.po whose .mo is missing or older, so a clean clone just works.

    Written to a temporary file and renamed, since several workers may start at once.
    """
    for po_path in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        try:
            if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file, locale=po_path.parent.parent.name)
            tmp_path = mo_path.with_name(f".{mo_path.name}.{os.getpid()}.tmp")
            with tmp_path.open("wb") as mo_file:
                write_mo(mo_file, catalog, use_fuzzy=False)
            os.replace(tmp_path, mo_path)
        except OSError as exc:
            log.warning("could not compile %s: %s", po_path, exc)
