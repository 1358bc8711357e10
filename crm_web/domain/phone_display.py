"""Phones as people write them: stored E.164 (`+79991234567`) shown `+7 999 123-45-67`."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

_INTERNATIONAL = phonenumbers.PhoneNumberFormat.INTERNATIONAL


# Pages show the same few numbers on every refresh of a list; parsing each costs tens of µs.
@lru_cache(maxsize=4096)
def display_phone(stored: str) -> str:
    """The number in its country's international format; anything unreadable as stored."""
    try:
        number = phonenumbers.parse(stored, None)  # no default region: only "+<country>..." parses
    except phonenumbers.NumberParseException:
        return stored
    if not phonenumbers.is_possible_number(number):
        return stored
    return phonenumbers.format_number(number, _INTERNATIONAL)


def example_phone(region: str) -> str | None:
    """A valid mobile number of `region`, written as pages show phones; None for an unknown region."""
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    return phonenumbers.format_number(number, _INTERNATIONAL) if number is not None else None
