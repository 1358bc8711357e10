"""What a list's search box asks for: folded text, phone digits, or both.

Pure functions, shared by the pages and the API. The databases fold the
indexed columns the same way (services/search.py): lower case, and `ё` read
as `е`, so `анна` finds `Анна` and `Семенов` finds `Семёнов`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ValidationError
from .identifiers import normalize_phone
from .messages import N_

MAX_QUERY = 320
# The trigram indexes find runs of 3 characters or more; a phone needs 4 digits.
MIN_TEXT = 3
MIN_PHONE_DIGITS = 4
# What people type between a phone's digits: spaces, dashes, brackets, dots and the leading +.
_PHONE_QUERY = re.compile(r"[\d\s\-()+.]+")
_WHITESPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower case, `ё` as `е`, runs of white space as one space."""
    return _WHITESPACE.sub(" ", text.lower().replace("ё", "е")).strip()


def phone_digits(text: str) -> str | None:
    """The digits of `text` when it is written like (a part of) a phone number with at least
    MIN_PHONE_DIGITS digits; else None (`12-3` is not a phone query, `Анна 1234` neither)."""
    if not _PHONE_QUERY.fullmatch(text):
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


@dataclass(frozen=True)
class SearchQuery:
    """`raw`: the trimmed text (an external id is matched as typed); `text`: folded, None when too
    short to search names and messages; `digits`: a phone query's digits; `phone`: the whole
    number in E.164 when the query is one (`8 (999) 123-45-67` shares no run of digits with
    `+79991234567` beyond the local number)."""

    raw: str
    text: str | None
    digits: str | None
    phone: str | None

    @property
    def searches_text(self) -> bool:
        return self.text is not None and self.digits is None

    @property
    def too_short(self) -> bool:
        """Too short for names, messages, emails and phones (a lead's external id is still matched)."""
        return self.text is None and self.digits is None


def parse_query(q: str, region: str) -> SearchQuery:
    """The search box's text as a query; raise ValidationError (field `q`) when it cannot be one."""
    raw = q.strip()
    if len(raw) > MAX_QUERY:
        raise ValidationError.single("q", N_("Search for at most %(max)d characters.", max=MAX_QUERY))
    if "\x00" in raw:  # PostgreSQL text cannot hold it
        raise ValidationError.single("q", N_("The search contains an invalid character."))
    digits = phone_digits(raw)
    phone = None
    if digits is not None:
        try:
            phone = normalize_phone(raw, region)
        except ValueError:
            phone = None
    text = fold(raw)
    return SearchQuery(raw=raw, text=text if len(text) >= MIN_TEXT else None, digits=digits, phone=phone)
