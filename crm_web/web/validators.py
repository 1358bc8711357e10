"""Form validators the staff pages need beyond WTForms' own."""

from __future__ import annotations

import math

from wtforms.validators import NumberRange


class IntRange(NumberRange):
    """NumberRange for IntegerField.

    WTForms' check calls math.isnan() on the value, which raises
    OverflowError (a 500) for an integer of 310 digits or more: such a value
    is checked as an infinity of its sign instead, so it is simply out of range.
    """

    def __call__(self, form, field):
        data = field.data
        if not (isinstance(data, int) and abs(data) > 10**300):
            super().__call__(form, field)
            return
        # A bound Field cannot be copied (Field.__new__ hands back an
        # UnboundField), so the value is swapped for the check and put back.
        field.data = math.inf if data > 0 else -math.inf
        try:
            super().__call__(form, field)
        finally:
            field.data = data
