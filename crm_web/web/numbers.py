"""Numbers as the page's language writes them: `30,50` and `30,3 %` in Russian, `30.50` and `30.3%` in
English. The pages' one place for it (the Jinja filters `number`, `decimal` and `percent`); the API and
the CSV files keep their own, language-free format."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import format_decimal, format_percent, get_locale


def number_text(value: int | float | Decimal) -> str:
    """A count or a measure, grouped as the language groups thousands (`1 234 567,5`)."""
    return format_decimal(value)


def decimal_text(value: int | float | Decimal | str, places: int = 2) -> str:
    """A weight and the like: exactly `places` decimals, no grouping (it may go back into an input)."""
    return format_decimal(Decimal(str(value)), "0." + "0" * places if places else "0")


def percent_text(share: float | None, places: int = 1, *, zeros: bool = True) -> str:
    """A share of 1 as a percentage, spaced as the language spaces it; "—" for none.

    `zeros=False` drops trailing zeros of the decimals (`60%`, `62.5%`)."""
    if share is None:
        return "—"
    # The locale's own pattern (`#,##0 %` in Russian, `#,##0%` in English) with the decimals asked for.
    pattern = get_locale().percent_formats[None].pattern
    if places:
        pattern = pattern.replace("0", "0." + ("0" if zeros else "#") * places, 1)
    return format_percent(share, pattern)
