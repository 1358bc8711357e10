"""How a contact ended, and the notes staff write on it (contract §3)."""

from __future__ import annotations

from .errors import ValidationError
from .messages import N_

OUTCOMES = ("done", "no_answer", "spam", "duplicate")
DEFAULT_OUTCOME = "done"
# Closing as this offers to close the lead's other open contacts from the same source too.
SPAM = "spam"
MAX_NOTE = 5000


def parse_outcome(value: object, field: str = "outcome") -> str:
    """The outcome of a close; missing or null is the default."""
    if value is None:
        return DEFAULT_OUTCOME
    if not isinstance(value, str) or value not in OUTCOMES:
        raise ValidationError.single(field, N_("Choose one of: %(choices)s.", choices=", ".join(OUTCOMES)))
    return value


def parse_note(value: object, field: str = "text") -> str:
    """A note's text, trimmed: 1..MAX_NOTE characters, no NUL (no database stores one in text)."""
    if not isinstance(value, str):
        raise ValidationError.single(field, N_("Write the note as text."))
    text = value.strip()
    if not text:
        raise ValidationError.single(field, N_("The note is empty."))
    if "\x00" in text:
        raise ValidationError.single(field, N_("Invalid character."))
    if len(text) > MAX_NOTE:
        raise ValidationError.single(
            field, N_("At most %(max)s characters (this one has %(count)s).", max=MAX_NOTE, count=len(text))
        )
    return text


def parse_close(outcome: object, note: object) -> tuple[str, str | None]:
    """A close's outcome and optional note (None or absent: no note), every field's problem at once."""
    problems: dict[str, list[str]] = {}
    try:
        outcome = parse_outcome(outcome)
    except ValidationError as exc:
        problems.update(exc.fields)
    if note is not None:
        try:
            note = parse_note(note, "note")
        except ValidationError as exc:
            problems.update(exc.fields)
    if problems:
        raise ValidationError(problems, N_("Some fields are invalid."))
    return outcome, note  # type: ignore[return-value]
