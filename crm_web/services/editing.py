"""Saving a new or changed row of a simple table (operators, sources) with its audit row.

Both steps run inside the caller's write transaction: the caller has already
checked its unique names, so an IntegrityError at the flush means a concurrent
request took one meanwhile, answered as the caller's `conflict`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.errors import Conflict
from .audit import changes, record

Audited = Callable[[Any], dict]  # the fields of a row that its audit rows show


def _flush_or_conflict(session: Session, conflict: Conflict) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        raise conflict from exc


def add_audited(
    session: Session, row: Any, audited: Audited, action: str, subject_type: str, conflict: Conflict
) -> None:
    """Insert `row` and record `action` ("operator.created") with its fields after."""
    session.add(row)
    _flush_or_conflict(session, conflict)
    record(session, action, subject_type, row.id, {"after": audited(row)})


def update_audited(
    session: Session, row: Any, values: dict, audited: Audited, action: str, subject_type: str,
    conflict: Conflict,
) -> dict:
    """Set `values` on `row` and record `action` ("operator.updated") with what changed.

    Returns {"before": {...}, "after": {...}} of the changed fields only.
    """
    before = audited(row)
    for field, value in values.items():
        setattr(row, field, value)
    _flush_or_conflict(session, conflict)
    diff = changes(before, audited(row))
    if diff["after"]:  # a save that changes nothing is not recorded
        record(session, action, subject_type, row.id, diff)
    return diff
