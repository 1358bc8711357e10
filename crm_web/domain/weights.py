"""Parsing of distribution weights: decimals with two places, 0.01..999.99."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MIN_WEIGHT = Decimal("0.01")
MAX_WEIGHT = Decimal("999.99")


def parse_weight(value: object) -> Decimal:
    """Return the weight as a Decimal, or raise ValueError saying why."""
    # bool is an int subclass; true/false are not weights.
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError("Weight must be a number or a string such as \"10.50\".")
    text = value.strip() if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    if not text:
        raise ValueError("Weight is empty.")
    try:
        weight = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError("Weight is not a number.") from exc
    if not weight.is_finite():
        raise ValueError("Weight must be a finite number.")
    exponent = weight.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and weight != weight.quantize(Decimal("0.01")):
        raise ValueError("Weight has more than two decimal places.")
    if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        raise ValueError("Weight must be between 0.01 and 999.99.")
    return weight.quantize(Decimal("0.01"))


def format_weight(weight: Decimal) -> str:
    return f"{weight.quantize(Decimal('0.01'))}"
