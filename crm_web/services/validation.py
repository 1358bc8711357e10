"""Small checks of plain input values shared by services."""

from __future__ import annotations

from collections.abc import Mapping

from ..domain.messages import N_
from .errors import ValidationError

# Ids are 32-bit integers in the schema; a larger one can name nothing.
MAX_ID = 2**31 - 1


def is_id(value: object) -> bool:
    """A plausible row id: an int (not bool) within the schema's range."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def get_by_id(session, model, row_id):
    """`session.get`, or None for an id no row can have (a larger one would overflow the driver)."""
    return session.get(model, row_id) if is_id(row_id) else None


def require_object(data: object) -> Mapping:
    if not isinstance(data, Mapping):
        raise ValidationError({"_body": [N_("Must be a JSON object.")]}, N_("Body must be a JSON object."))
    return data


def text_field(data: Mapping, field: str, errors: dict, max_len: int, required: bool) -> str | None:
    value = data.get(field)
    if value is None:
        if required:
            errors.setdefault(field, []).append(N_("This field is required."))
        return None
    if not isinstance(value, str):
        errors.setdefault(field, []).append(N_("Must be a string."))
        return None
    value = value.strip()
    if not value or "\x00" in value:
        message = N_("Must not be empty.") if not value else N_("Invalid character.")
        errors.setdefault(field, []).append(message)
        return None
    if len(value) > max_len:
        errors.setdefault(field, []).append(N_("At most %(max)d characters.", max=max_len))
        return None
    return value


def bool_field(data: Mapping, field: str, errors: dict) -> bool | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        errors.setdefault(field, []).append(N_("Must be true or false."))
        return None
    return value


def int_field(
    data: Mapping, field: str, errors: dict, low: int, high: int, required: bool
) -> int | None:
    value = data.get(field)
    if value is None:
        if required:
            errors.setdefault(field, []).append(N_("This field is required."))
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors.setdefault(field, []).append(N_("Must be a whole number."))
        return None
    if not low <= value <= high:
        errors.setdefault(field, []).append(N_("Must be between %(low)d and %(high)d.", low=low, high=high))
        return None
    return value


# Fields a client may echo back from a read; they cannot be written, so they
# are ignored rather than refused.
READ_ONLY = {"id", "load", "created_at", "webhook_token"}


def unknown_fields(data: Mapping, allowed: set[str], errors: dict) -> None:
    """Refuse fields we do not know, so a typo such as `max_laod` is not silently lost."""
    for field in data:
        if field not in allowed and field not in READ_ONLY:
            errors.setdefault(str(field), []).append(N_("Unknown field."))


def raise_if(errors: dict) -> None:
    if errors:
        raise ValidationError(errors, N_("Some fields are invalid."))
