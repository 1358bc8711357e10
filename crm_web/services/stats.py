"""Counts for the overview and the navigation badge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.local_time import today_starts_at
from ..models import Contact, Operator


@dataclass(frozen=True)
class OverviewCounts:
    queue: int
    assigned: int
    today: int
    free_capacity: int
    operators_active: int


def queue_size(session: Session) -> int:
    """Unassigned active contacts (served by the queue's partial index)."""
    return session.scalar(
        select(func.count(Contact.id)).where(Contact.is_active.is_(True), Contact.operator_id.is_(None))
    ) or 0


def overview_counts(session: Session, zone: tzinfo = UTC, now: datetime | None = None) -> OverviewCounts:
    """The overview's figures; "today" is the day of `zone` (the viewer's) that holds `now`."""
    midnight = today_starts_at(zone, now or datetime.now(UTC))
    # Sums over the operators table: the maintained loads, not a scan of contacts.
    assigned, free, active = session.execute(
        select(
            func.coalesce(func.sum(Operator.active_load), 0),
            func.coalesce(
                func.sum(Operator.max_load - Operator.active_load).filter(
                    Operator.is_active.is_(True), Operator.active_load < Operator.max_load
                ),
                0,
            ),
            func.count(Operator.id).filter(Operator.is_active.is_(True)),
        ).where(Operator.deleted_at.is_(None))
    ).one()
    today = session.scalar(select(func.count(Contact.id)).where(Contact.created_at >= midnight))
    return OverviewCounts(
        queue=queue_size(session),
        assigned=int(assigned),
        today=today or 0,
        free_capacity=int(free),
        operators_active=int(active),
    )
