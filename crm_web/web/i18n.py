"""The pages' language: who chose which, the switcher, catalogs, and service messages translated."""

from __future__ import annotations

import logging
import os
import re
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import abort, redirect, request, url_for
from flask_babel import get_locale, gettext
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


# A stored message is read back by a template only if the template starts with words and has enough of
# them ("%(name)s" alone would read back anything).
_MIN_WORDS = 12
_PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")


def read_back(text: str) -> str:
    """A message stored in English (a contact's warnings, the webhook's field errors) in the page's
    language: word for word, else by the catalog's template it was made from, its values kept."""
    if not text:
        return text
    translated = gettext(text)
    if translated != text or str(get_locale() or "en") == SUPPORTED_LOCALES[0]:
        return translated
    for pattern, template, kinds in _templates(str(get_locale())):
        match = pattern.fullmatch(text)
        if match:
            params = {
                name: int(value) if kinds[name] == "d" else read_back(value) if name == "reason" else value
                for name, value in match.groupdict().items()
            }
            return gettext(template, **params)
    return text


@cache
def _templates(locale: str) -> list[tuple[re.Pattern, str, dict[str, str]]]:
    """(regex, msgid, placeholder kinds) of the catalog's msgids with values, most words first."""
    po_path = Path(__file__).resolve().parent.parent / "translations" / locale / "LC_MESSAGES" / "messages.po"
    try:
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=locale)
    except OSError:
        return []
    found = []
    for message in catalog:
        template = message.id
        if not isinstance(template, str) or not message.string or not template[:1].isalpha():
            continue
        pieces = _PLACEHOLDER.split(template)  # literal, name, kind, literal, name, kind, …
        literals, names = pieces[::3], pieces[1::3]
        if not names or len(set(names)) != len(names) or len("".join(literals)) < _MIN_WORDS:
            continue
        regex = "".join(
            re.escape(piece.replace("%%", "%")) if i % 3 == 0
            else (rf"(?P<{piece}>-?\d+)" if pieces[i + 1] == "d" else rf"(?P<{piece}>.+?)") if i % 3 == 1
            else ""
            for i, piece in enumerate(pieces)
        )
        found.append((re.compile(regex, re.S), template, dict(zip(names, pieces[2::3], strict=True))))
    return sorted(found, key=lambda item: -len(item[1]))


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
