"""Reading the audit trail: the filtered, newest-first list and one subject's history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.local_time import day_start
from ..models import AuditEvent, Lead, Operator, Source, User
from .pagination import count_total

SUBJECT_TYPES = ("contact", "lead", "operator", "source", "user", "api_token")
# Subjects with a page of their own; each is looked up with one IN query per page of events.
_PAGED_SUBJECTS = {"operator": Operator, "source": Source, "user": User, "lead": Lead}


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None  # a prefix: "contact." or "contact.assigned"
    actor: str | None = None  # part of the actor's label, any case
    actor_user_id: int | None = None
    subject_type: str | None = None
    subject_id: int | None = None
    date_from: date | None = None  # whole days of `zone`, both ends included
    date_to: date | None = None
    zone: tzinfo = UTC


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    total: int
    total_is_estimate: bool
    next_after: int | None  # the `after` of the next (older) page, None on the last


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(query, filters: AuditFilters):
    if filters.action:
        query = query.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.actor:
        pattern = f"%{_like_escaped(filters.actor.lower())}%"
        query = query.where(func.lower(AuditEvent.actor_label).like(pattern, escape="\\"))
    if filters.actor_user_id is not None:
        query = query.where(AuditEvent.actor_user_id == filters.actor_user_id)
    if filters.subject_type:
        query = query.where(AuditEvent.subject_type == filters.subject_type)
    if filters.subject_id is not None:
        query = query.where(AuditEvent.subject_id == filters.subject_id)
    if filters.date_from:
        query = query.where(AuditEvent.created_at >= day_start(filters.date_from, filters.zone))
    if filters.date_to:
        after_last = filters.date_to + timedelta(days=1)
        query = query.where(AuditEvent.created_at < day_start(after_last, filters.zone))
    return query


def list_events(
    session: Session, filters: AuditFilters, per_page: int, after: int | None = None
) -> AuditPage:
    """Newest first; `after` (the last id of the previous page) makes a keyset page."""
    query = _filtered(select(AuditEvent), filters).order_by(AuditEvent.id.desc())
    total, estimated = count_total(
        session, query, AuditEvent.id, estimate_key=("audit_events", filters)
    )
    if after is not None:
        query = query.where(AuditEvent.id < after)
    rows = list(session.scalars(query.limit(per_page + 1)))
    more = len(rows) > per_page
    events = rows[:per_page]
    return AuditPage(events, total, estimated, events[-1].id if more else None)


def subject_history(session: Session, subject_type: str, subject_id: int) -> list[AuditEvent]:
    """Every event about one subject, oldest first (one indexed query)."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == subject_id)
            .order_by(AuditEvent.id)
        )
    )


def existing_subjects(session: Session, events: Iterable[AuditEvent]) -> set[tuple[str, int]]:
    """(type, id) of the events' subjects that still have a page: one query per type present.

    Contacts are never deleted, so they are not looked up; deleted operators
    keep a row but no page.
    """
    wanted: dict[str, set[int]] = {}
    found: set[tuple[str, int]] = set()
    for event in events:
        if event.subject_id is None:
            continue
        if event.subject_type == "contact":
            found.add(("contact", event.subject_id))
        elif event.subject_type in _PAGED_SUBJECTS:
            wanted.setdefault(event.subject_type, set()).add(event.subject_id)
    for subject_type, ids in wanted.items():
        model = _PAGED_SUBJECTS[subject_type]
        query = select(model.id).where(model.id.in_(ids))
        if model is Operator:
            query = query.where(Operator.deleted_at.is_(None))
        found.update((subject_type, row_id) for row_id in session.scalars(query))
    return found
