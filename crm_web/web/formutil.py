"""Putting service errors back onto form fields, in the page's language."""

from __future__ import annotations

from flask_wtf import FlaskForm

from ..services.errors import ServiceError, ValidationError
from .i18n import translate


def apply_errors(form: FlaskForm, exc: Exception, conflict_field: str | None = None) -> None:
    """Show a service's ValidationError per field, or a conflict on `conflict_field`."""
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
