"""The one place that decides who gets a contact, and capacity bookkeeping.

Capacity is claimed with a conditional UPDATE on the operator's maintained
`active_load`: `... SET active_load = active_load + 1 WHERE active_load <
max_load AND is_active`. The database evaluates the check and the increment
as one step on the locked row (PostgreSQL re-checks the condition after
waiting for a concurrent writer; SQLite runs one writer at a time), so no
number of requests or processes can push an operator past max_load.

Lock order, to keep PostgreSQL free of deadlocks: operator row first, then
the contact rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..domain.choice import Candidate, choose_operator
from ..models import Distribution, Operator

_NO_SYNC = {"synchronize_session": False}


@dataclass(frozen=True)
class Claimed:
    id: int
    name: str


def eligible_candidates(session: Session, source_id: int) -> list[Candidate]:
    """Operators with a rule for the source, active and below max_load."""
    rows = session.execute(
        select(Operator.id, Distribution.weight, Operator.active_load, Operator.max_load)
        .join(Distribution, Distribution.operator_id == Operator.id)
        .where(
            Distribution.source_id == source_id,
            Operator.is_active.is_(True),
            Operator.deleted_at.is_(None),
            Operator.active_load < Operator.max_load,
        )
        .order_by(Operator.id)
    ).all()
    return [Candidate(r.id, r.weight, True, r.active_load, r.max_load) for r in rows]


def claim_capacity(session: Session, operator_id: int) -> Claimed | None:
    """Take one unit of the operator's capacity atomically; None if it has none."""
    row = session.execute(
        update(Operator)
        .where(
            Operator.id == operator_id,
            Operator.is_active.is_(True),
            Operator.deleted_at.is_(None),
            Operator.active_load < Operator.max_load,
        )
        .values(active_load=Operator.active_load + 1)
        .returning(Operator.id, Operator.name),
        execution_options=_NO_SYNC,
    ).first()
    return Claimed(row.id, row.name) if row else None


def release_capacity(session: Session, operator_id: int) -> None:
    session.execute(
        update(Operator)
        .where(Operator.id == operator_id, Operator.active_load > 0)
        .values(active_load=Operator.active_load - 1),
        execution_options=_NO_SYNC,
    )


def lock_operator(session: Session, operator_id: int) -> None:
    """Hold the operator's row lock (PostgreSQL) before touching its contacts."""
    session.execute(
        select(Operator.id).where(Operator.id == operator_id).with_for_update()
    )


def choose_and_claim(session: Session, source_id: int, rng: random.Random) -> Claimed | None:
    """Weighted random choice among eligible operators, capacity claimed.

    If the drawn operator filled up since the candidates were read, draw
    again among the rest; None when nobody is left.
    """
    candidates = eligible_candidates(session, source_id)
    while candidates:
        operator_id = choose_operator(candidates, rng)
        if operator_id is None:
            return None
        claimed = claim_capacity(session, operator_id)
        if claimed is not None:
            return claimed
        candidates = [c for c in candidates if c.operator_id != operator_id]
    return None
