"""Checks of what forms and query strings carry: bounded integers and text without NUL.

Every integer a page reads from a form or a query string goes through
`parse_bounded_int`, so none reaches the database out of its column's range
(OverflowError on SQLite, "integer out of range" on PostgreSQL: a 500).
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms.validators import StopValidation

from ..services.validation import MAX_ID

# Pages of a list: far beyond any real list, small enough for an OFFSET.
MAX_PAGE = 100_000
# Plain ASCII digits: int() would also take "1_000" or other scripts' digits.
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
# More significant digits than this is out of any range used here; int() of
# thousands of digits is slow, and refused past 4300.
_MAX_DIGITS = 20


class NotAnInteger(ValueError):
    """The text is not a whole number."""


class OutOfRange(ValueError):
    """A whole number outside the range the field or argument declares."""


def parse_bounded_int(value: object, low: int, high: int) -> int:
    """`value` (form or query text, or an int) as an int in [low, high].

    Raises NotAnInteger or OutOfRange (both ValueError) for anything else.
    """
    if isinstance(value, bool):
        raise NotAnInteger(value)
    if isinstance(value, int):
        number = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        if not _INTEGER.fullmatch(text):
            raise NotAnInteger(value)
        if len(text.lstrip("+-").lstrip("0")) > _MAX_DIGITS:
            raise OutOfRange(value)
        number = int(text)
    if not low <= number <= high:
        raise OutOfRange(value)
    return number


def int_in(low: int, high: int):
    """A SelectField `coerce` taking only integers in [low, high] (ValueError otherwise)."""

    def coerce(value: object) -> int:
        return parse_bounded_int(value, low, high)

    return coerce


id_value = int_in(1, MAX_ID)


def refuse_nul(form, field) -> None:
    """No field takes a NUL: PostgreSQL text cannot hold one, and no person types it."""
    values = [v for v in field.raw_data or () if isinstance(v, str)]
    if isinstance(field.data, str):
        values.append(field.data)
    if any("\x00" in v for v in values):
        # The words of services/validation.py, so that the translation exists.
        raise StopValidation(_l("Invalid character."))
