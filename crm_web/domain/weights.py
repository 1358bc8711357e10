"""Parsing of distribution weights: decimals with two places, 0.01..999.99."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .messages import N_

MIN_WEIGHT = Decimal("0.01")
MAX_WEIGHT = Decimal("999.99")
CENT = Decimal("0.01")
# The text a weight may be written as (before the range and the two places are
# checked); published as is to the OpenAPI document and the weight inputs' `pattern`.
WEIGHT_PATTERN = r"\+?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
PLAIN_DECIMAL = re.compile(WEIGHT_PATTERN)


def parse_weight(value: object) -> Decimal:
    """Return the weight as a Decimal, or raise ValueError saying why."""
    # bool is an int subclass; true/false are not weights.
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError(N_("Weight must be a number or a string such as \"10.50\"."))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError(N_("Weight is empty."))
        # Plain ASCII decimals only: Decimal() would also take "1_5" or
        # other scripts' digits, and a typo must not become a weight.
        if not PLAIN_DECIMAL.fullmatch(text):
            raise ValueError(N_("Weight must be a plain decimal number such as 10.50."))
        try:
            weight = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(N_("Weight is not a number.")) from exc
    elif isinstance(value, float):
        # repr gives the shortest text that round-trips: 10.5 -> "10.5", not 10.5000000000000001...
        weight = Decimal(repr(value))
    else:
        # int or Decimal; Decimal(int) has no digit limit, unlike str(int).
        weight = Decimal(value)
    if not weight.is_finite():
        raise ValueError(N_("Weight must be a finite number."))
    # The range check comes first: quantizing a huge value would exceed the
    # decimal precision and raise InvalidOperation, which is not a ValueError.
    if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        if 0 < weight < MIN_WEIGHT:  # e.g. "0.001"
            raise ValueError(N_("Weight has more than two decimal places."))
        raise ValueError(N_("Weight must be between 0.01 and 999.99."))
    quantized = weight.quantize(CENT)
    if weight != quantized:
        raise ValueError(N_("Weight has more than two decimal places."))
    return quantized


def format_weight(weight: Decimal) -> str:
    return f"{weight.quantize(CENT)}"
