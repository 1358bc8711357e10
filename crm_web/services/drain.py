"""Handing queued contacts to operators, and taking back ones left unopened.

Draining walks the unassigned queue oldest first and gives each contact
to an operator of its source's weight table through the same weighted
draw-claim-retry loop and atomic capacity claim as the intake
(assignment.choose_and_claim).
Each contact is its own short write transaction: the operator's capacity
is claimed first, then the contact is taken only if it is still
unassigned (a conditional UPDATE), so several drainers — threads,
workers, hosts — never assign a contact twice nor push an operator past
max_load; a drainer that loses a contact to another rolls back, which
also returns the capacity it had claimed.

Returning: with CRM_RETURN_AFTER_MINUTES set, an assigned contact whose
operator has not opened it within that time goes back to the queue (its
capacity released, an audit row written), and with auto-drain on it is
handed on at once to another eligible operator.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ..domain.coverage import Gap, OperatorPlaces, WaitingSource, weight_gaps
from ..models import AuditEvent, Contact, Distribution, Operator, Source, utcnow
from . import audit
from .assignment import choose_and_claim, eligible_candidates, lock_operator, release_capacity
from .tx import write_transaction

BATCH = 200
_NO_SYNC = {"synchronize_session": False}
# Set on the session by services that free capacity (a close, an operator
# activated or given more room, a rule added); the entry layer drains
# afterwards when CRM_AUTO_DRAIN is on.
CAPACITY_FREED = "crm_capacity_freed"


def mark_capacity_freed(session: Session) -> None:
    session.info[CAPACITY_FREED] = True


def take_capacity_freed(session: Session) -> bool:
    return bool(session.info.pop(CAPACITY_FREED, False))


@dataclass
class DrainResult:
    assigned: int = 0
    examined: int = 0
    by_operator: dict[str, int] = field(default_factory=dict)


def _queued_batch(session: Session, after: tuple[datetime, int] | None, source_ids: set[int]):
    query = (
        select(Contact.id, Contact.source_id, Contact.created_at)
        .where(Contact.is_active.is_(True), Contact.operator_id.is_(None))
        .order_by(Contact.created_at, Contact.id)
        .limit(BATCH)
    )
    if after is not None:
        created_at, contact_id = after
        older_done = and_(Contact.created_at == created_at, Contact.id > contact_id)
        query = query.where(or_(Contact.created_at > created_at, older_done))
    if source_ids:
        query = query.where(Contact.source_id.not_in(source_ids))
    rows = session.execute(query).all()
    session.commit()  # end the read; each assignment is its own write transaction
    return rows


def drain_queue(
    session: Session,
    rng: random.Random,
    limit: int | None = None,
    exclude: dict[int, int] | None = None,
) -> DrainResult:
    """Assign queued contacts, oldest first, while their sources have free operators.

    `limit`: stop after that many assignments. `exclude`: contact id →
    operator id that must not get it back (a contact returned unopened).
    A contact whose source has nobody free stays queued and the walk goes
    on to younger contacts of other sources.
    """
    result = DrainResult()
    exclude = exclude or {}
    full_sources: set[int] = set()  # nobody free at the last look: skip their contacts
    after = None
    while limit is None or result.assigned < limit:
        rows = _queued_batch(session, after, full_sources)
        if not rows:
            break
        for row in rows:
            if limit is not None and result.assigned >= limit:
                break
            after = (row.created_at, row.id)
            if row.source_id in full_sources:
                continue
            result.examined += 1
            excluded = exclude.get(row.id)
            outcome = _assign_one(session, row.id, row.source_id, rng, excluded)
            if outcome is None and excluded is None:
                full_sources.add(row.source_id)  # nobody free for any of its contacts
            elif outcome:
                result.assigned += 1
                result.by_operator[outcome] = result.by_operator.get(outcome, 0) + 1
    return result


def queue_weight_gaps(session: Session) -> list[Gap]:
    """Operators with free places but no weight for the sources whose contacts wait (three queries)."""
    waiting = [
        WaitingSource(row.id, row.name, row.waiting)
        for row in session.execute(
            select(Source.id, Source.name, func.count(Contact.id).label("waiting"))
            .join(Contact, Contact.source_id == Source.id)
            .where(Contact.is_active.is_(True), Contact.operator_id.is_(None))
            .group_by(Source.id, Source.name)
            .order_by(Source.name, Source.id)
        )
    ]
    if not waiting:
        return []
    operators = [
        OperatorPlaces(row.id, row.name, row.is_active, row.active_load, row.max_load)
        for row in session.execute(
            select(Operator.id, Operator.name, Operator.is_active, Operator.active_load, Operator.max_load)
            .where(Operator.deleted_at.is_(None))
        )
    ]
    rules = session.execute(
        select(Distribution.source_id, Distribution.operator_id)
        .where(Distribution.source_id.in_([source.id for source in waiting]))
    )
    return weight_gaps(operators, waiting, [(row.source_id, row.operator_id) for row in rules])


def _assign_one(
    session: Session, contact_id: int, source_id: int, rng: random.Random, excluded: int | None
) -> str | None | bool:
    """The operator's name; None when nobody is free; False when the contact was taken meanwhile."""
    with write_transaction(session):
        conn = session.connection()
        candidates, names = eligible_candidates(conn, source_id)
        if excluded is not None:
            candidates = [c for c in candidates if c.operator_id != excluded]
        decision = choose_and_claim(conn, candidates, names, rng)
        if decision.claimed is None:
            return None
        now = utcnow()
        taken = session.execute(
            update(Contact)
            .where(Contact.id == contact_id, Contact.is_active.is_(True), Contact.operator_id.is_(None))
            .values(operator_id=decision.claimed.id, assigned_at=now, first_opened_at=None),
            execution_options=_NO_SYNC,
        ).rowcount
        if taken != 1:
            session.rollback()  # also gives the claimed capacity back
            return False
        action, details = decision.audit("drain")
        audit.record(session, action, "contact", contact_id, details)
        return decision.claimed.name


@dataclass(frozen=True)
class Returned:
    contact_id: int
    operator_id: int


def return_unopened(session: Session, minutes: int, now: datetime | None = None) -> list[Returned]:
    """Put back in the queue every contact not opened within `minutes` of its assignment."""
    now = now or utcnow()
    deadline = now - timedelta(minutes=minutes)
    stale = session.execute(
        select(Contact.id, Contact.operator_id)
        .where(
            Contact.is_active.is_(True),
            Contact.operator_id.is_not(None),
            Contact.first_opened_at.is_(None),
            Contact.assigned_at < deadline,
        )
        .order_by(Contact.assigned_at, Contact.id)
        .limit(1000)
    ).all()
    session.commit()
    returned = []
    for contact_id, operator_id in stale:
        if _return_one(session, contact_id, operator_id, deadline, minutes):
            returned.append(Returned(contact_id, operator_id))
    return returned


def _return_one(
    session: Session, contact_id: int, operator_id: int, deadline: datetime, minutes: int
) -> bool:
    with write_transaction(session):
        lock_operator(session, operator_id)  # operator first, then the contact
        assigned_at = session.scalar(
            select(Contact.assigned_at).where(
                Contact.id == contact_id,
                Contact.operator_id == operator_id,
                Contact.is_active.is_(True),
                Contact.first_opened_at.is_(None),
                Contact.assigned_at < deadline,
            )
        )
        if assigned_at is None:  # opened, closed or moved meanwhile
            return False
        taken_back = session.execute(
            update(Contact)
            .where(
                Contact.id == contact_id,
                Contact.operator_id == operator_id,
                Contact.is_active.is_(True),
                Contact.first_opened_at.is_(None),  # re-checked: opened a moment ago stays
            )
            .values(operator_id=None, assigned_at=None),
            execution_options=_NO_SYNC,
        ).rowcount
        if taken_back != 1:
            return False
        release_capacity(session, operator_id)
        name = session.scalar(select(Operator.name).where(Operator.id == operator_id))
        audit.record(
            session,
            "contact.returned",
            "contact",
            contact_id,
            {
                "reason": "not_opened",
                "operator_id": operator_id,
                "operator_name": name,
                "assigned_at": assigned_at,
                "minutes": minutes,
            },
        )
    return True


def mark_opened(session: Session, contact_id: int, operator_id: int) -> None:
    """The assigned operator opened the contact: it no longer returns to the queue."""
    with write_transaction(session):
        session.execute(
            update(Contact)
            .where(
                Contact.id == contact_id,
                Contact.operator_id == operator_id,
                Contact.first_opened_at.is_(None),
            )
            .values(first_opened_at=utcnow()),
            execution_options=_NO_SYNC,
        )


def recently_returned(session: Session, operator_id: int, since: datetime, limit: int = 20) -> list[dict]:
    """Contacts taken back from this operator since then because they were not opened."""
    rows = session.execute(
        select(AuditEvent.subject_id, AuditEvent.created_at, AuditEvent.details)
        .where(AuditEvent.action == "contact.returned", AuditEvent.created_at >= since)
        .order_by(AuditEvent.id.desc())
        .limit(1000)
    ).all()
    found = []
    for row in rows:
        details = json.loads(row.details or "{}")
        if details.get("operator_id") == operator_id and details.get("reason") == "not_opened":
            found.append(
                {"contact_id": row.subject_id, "at": row.created_at, "minutes": details.get("minutes")}
            )
    return found[:limit]
