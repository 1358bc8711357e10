"""What every page shares: paging, safe redirects, htmx, failed forms, look-ups.

No view catches a service's NotFound to answer 404: the app's handler of
ServiceError (crm_web/core/errors.py) renders the 404 page for it, and 403
for Forbidden, 422 for ValidationError. A view catches only the errors it
answers otherwise (a flash, a message, a form error, a None).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import render_template, request
from flask_wtf import FlaskForm

from ..core.extensions import db
from ..domain.errors import NotFound
from ..services.operators import all_operators
from ..services.validation import MAX_ID
from .validators import MAX_PAGE, parse_bounded_int

T = TypeVar("T")

PER_PAGE = 50


# --- paging ------------------------------------------------------------------------------


def int_arg(name: str, low: int = 1, high: int = MAX_ID) -> int | None:
    """`?name=` as an int in [low, high] (a row id by default); None when absent or anything else."""
    try:
        return parse_bounded_int(request.args.get(name), low, high)
    except ValueError:
        return None


def page_arg() -> int:
    """`?page=` as a number in 1..MAX_PAGE (anything else is page 1)."""
    return int_arg("page", 1, MAX_PAGE) or 1


def after_arg() -> int | None:
    """`?after=<id>`: a keyset page (deep pages of big lists); anything else is ignored."""
    return int_arg("after")


def keyset_page(fetch):
    """`fetch(page, after)` for a list page: with `?after=` (the pager's Next
    link) the page starts right after that item, an index range scan however
    deep; `page` then only numbers it. Without it, `page` is an offset."""
    after, number = after_arg(), page_arg()
    if after is None:
        return fetch(number, None)
    return dataclasses.replace(fetch(1, after), page=number)


# --- redirects and htmx ------------------------------------------------------------------


def safe_next(target: str | None) -> str | None:
    """Only same-site paths, never another host (open redirect)."""
    # Browsers read "/\\host" like "//host" (another site): no backslash, no control characters.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ord(c) < 32 for c in target)
        and not urlsplit(target).netloc
    ):
        return target
    return None


def wants_fragment() -> bool:
    """An htmx request gets only the fragment; a history restore needs the whole page."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


# --- forms -------------------------------------------------------------------------------


def form_status(form: FlaskForm, ok: int = 200) -> int:
    """422 when the form has errors (its own, or a service's put there by apply_errors), else `ok`."""
    return 422 if form.errors else ok


def render_form(template: str, form: FlaskForm, *, status: int = 200, headers: dict | None = None, **context):
    """The page of a form, answered 422 when the form has errors, else `status`."""
    return render_template(template, form=form, **context), form_status(form, status), headers or {}


# --- look-ups ----------------------------------------------------------------------------


def found_or_none(get: Callable[..., T], *args) -> T | None:
    """`get(db.session, *args)`, or None where a missing row is no error (a user without an operator)."""
    try:
        return get(db.session, *args)
    except NotFound:
        return None


def assignable_operators():
    """Operators offered by the assign forms (queue, contact page); the service re-checks at assignment."""
    return [op for op in all_operators(db.session) if op.is_active and op.active_load < op.max_load]
