"""What every form of the pages shares: the base, the bounded integer, the CSRF-only form, a
button's post checked or refused, and service errors put back onto fields. Each area's own forms
live beside its views."""

from __future__ import annotations

from typing import TypeVar

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, TelField

from ..domain.errors import ServiceError, ValidationError
from ..services.validation import MAX_ID
from .i18n import translate
from .validators import NotAnInteger, parse_bounded_int, refuse_nul

# How a contact ended (domain/outcomes.py OUTCOMES, in its order), as the pages name it: close forms,
# badges, filters, the audit trail.
OUTCOME_LABELS = {
    "done": _l("Done"), "no_answer": _l("No answer"), "spam": _l("Spam"), "duplicate": _l("Duplicate"),
}


class CrmForm(FlaskForm):
    """The base of every form of the pages: no field takes a NUL character ("Invalid character.")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self:
            # First in the chain, and it stops it: no other check sees the NUL.
            field.validators = [refuse_nul, *field.validators]


# WTForms' own messages, translated by its catalog (field.gettext), not ours: kept out of gettext().
NOT_AN_INTEGER = "Not a valid integer value."
OUT_OF_RANGE = "Number must be between %(min)s and %(max)s."


class BoundedIntegerField(IntegerField):
    """An IntegerField that holds only whole numbers in [min, max] (a row id by default).

    Anything else (huge, negative, not a number) is a field error and leaves
    `data` None, so that not even a view that forgets to validate hands the
    database a number its column cannot hold.
    """

    def __init__(self, label=None, validators=None, *, min: int = 1, max: int = MAX_ID, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.min, self.max = min, max
        self.flags.min, self.flags.max = min, max  # rendered as the input's min and max

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = parse_bounded_int(valuelist[0], self.min, self.max)
        except NotAnInteger as exc:
            self.data = None
            raise ValueError(self.gettext(NOT_AN_INTEGER)) from exc
        except ValueError as exc:
            self.data = None
            raise ValueError(self.gettext(OUT_OF_RANGE) % {"min": self.min, "max": self.max}) from exc


def _typed_as(kind: str, kwargs: dict) -> dict:
    """`autocomplete` and `inputmode` of a phone or email input; a field's own render_kw wins."""
    own = kwargs.get("render_kw") or {}
    return {**kwargs, "render_kw": {"autocomplete": kind, "inputmode": kind, **own}}


class PhoneField(TelField):
    """A phone as typed (`type="tel"`): the phone keypad and the browser's saved numbers; the
    number itself is checked by the domain, as from the webhook."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **_typed_as("tel", kwargs))


class EmailAddressField(EmailField):
    """An email as typed (`type="email"`): the keyboard with @ and the browser's saved addresses."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **_typed_as("email", kwargs))


class EmptyForm(CrmForm):
    """Only the CSRF token: for buttons that post (close, take, delete...)."""


F = TypeVar("F", bound=FlaskForm)


def submitted_or_400(form_class: type[F]) -> F:
    """The posted form of a button, validated; 400 when it fails (the page never sends such a post)."""
    form = form_class()
    if not form.validate_on_submit():
        abort(400)
    return form


def apply_errors(form: FlaskForm, exc: Exception, conflict_field: str | None = None) -> None:
    """A service's ValidationError per field, or a conflict on `conflict_field`, in the page's language."""
    if isinstance(exc, ValidationError):
        for name, messages in exc.fields.items():
            field = getattr(form, name, None)
            if field is not None and hasattr(field, "errors"):
                field.errors = list(field.errors) + [translate(m) for m in messages]
            else:
                form.form_errors.extend(translate(m) for m in messages)
        if not exc.fields:
            form.form_errors.append(translate(exc.message))
    elif isinstance(exc, ServiceError):
        field = getattr(form, conflict_field, None) if conflict_field else None
        if field is not None:
            field.errors = list(field.errors) + [translate(exc.message)]
        else:
            form.form_errors.append(translate(exc.message))
