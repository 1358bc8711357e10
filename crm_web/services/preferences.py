"""A staff user's own preferences: the language of the pages and the time zone of their times."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..domain.errors import NotFound, ValidationError
from ..domain.local_time import parse_zone
from ..domain.messages import N_
from ..models import User
from .tx import write_transaction

# English is the source language of every message; the first is the default.
SUPPORTED_LOCALES = ("en", "ru")


def check_locale(locale: str | None) -> str:
    """The locale itself if the pages are translated into it; else ValidationError."""
    if locale not in SUPPORTED_LOCALES:
        raise ValidationError.single("locale", N_("Choose one of the offered languages."))
    return locale


def set_locale(session: Session, user_id: int, locale: str | None) -> None:
    """Store the language the user chose; None forgets it (the browser's language applies)."""
    if locale is not None:
        check_locale(locale)
    with write_transaction(session):
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(N_("User %(id)s not found.", id=user_id))
        user.locale = locale


def set_timezone(session: Session, user_id: int, name: str | None) -> None:
    """Store the IANA zone the user chose; None forgets it (the app's CRM_TIMEZONE applies).

    Raises ValidationError (field `timezone`) for a name that is not a zone.
    """
    if name is not None:
        parse_zone(name)
    with write_transaction(session):
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(N_("User %(id)s not found.", id=user_id))
        user.timezone = name
