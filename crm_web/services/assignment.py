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
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..domain.choice import Candidate, Draw, draw_operator
from ..models import Distribution, Operator, Source
from .prepared import Prepared

_NO_SYNC = {"synchronize_session": False}

# Built once: plain Core statements on the tables (no ORM entities), so an
# intake pays neither statement construction nor the ORM's result handling.
_ops = Operator.__table__
_rules = Distribution.__table__
# The one definition of "may take another contact now" (eligibility and the
# atomic claim both use it).
HAS_CAPACITY = and_(
    _ops.c.is_active.is_(true()),
    _ops.c.deleted_at.is_(None),
    _ops.c.active_load < _ops.c.max_load,
)
_CANDIDATES = Prepared(
    select(_ops.c.id, _ops.c.name, _rules.c.weight, _ops.c.active_load, _ops.c.max_load)
    .join(_rules, _rules.c.operator_id == _ops.c.id)
    .where(
        _rules.c.source_id == bindparam("source_id"),
        HAS_CAPACITY,
    )
    .order_by(_ops.c.id)
)
_sources = Source.__table__
# The webhook's first statement: the active source by key and, with it, the
# operators of its weight table that may get a contact now (NULLs for the
# others; no rule at all gives one row of NULLs).
_SOURCE_AND_CANDIDATES = Prepared(
    select(
        _sources.c.id,
        _sources.c.webhook_token,
        _ops.c.id.label("operator_id"),
        _ops.c.name.label("operator_name"),
        _rules.c.weight,
        _ops.c.active_load,
        _ops.c.max_load,
    )
    .select_from(
        _sources.outerjoin(_rules, _rules.c.source_id == _sources.c.id).outerjoin(
            _ops,
            and_(_ops.c.id == _rules.c.operator_id, HAS_CAPACITY),
        )
    )
    .where(_sources.c.key == bindparam("key"), _sources.c.is_active.is_(true()))
    .order_by(_rules.c.operator_id)
)
_CLAIM = Prepared(
    update(_ops)
    .where(
        _ops.c.id == bindparam("chosen_id"),
        HAS_CAPACITY,
    )
    .values(active_load=_ops.c.active_load + 1)
    .returning(_ops.c.id, _ops.c.name)
)


@dataclass(frozen=True)
class Claimed:
    id: int
    name: str


def eligible_candidates(conn: Connection, source_id: int) -> tuple[list[Candidate], dict[int, str]]:
    """Operators with a rule for the source, active and below max_load, and their names."""
    rows = _CANDIDATES.all(conn, {"source_id": source_id})
    return (
        [Candidate(id_, weight, True, load, max_load) for id_, _name, weight, load, max_load in rows],
        {row[0]: row[1] for row in rows},
    )


@dataclass
class Decision:
    """What an automatic assignment saw and did: the audit trail's "why".

    `candidates` are the eligible operators as read (weights, loads), one
    draw per try (a drawn operator that filled up meanwhile is refused and
    the draw repeated among the rest), and the operator finally claimed.
    """

    candidates: list[Candidate]
    names: dict[int, str]
    draws: list[Draw] = field(default_factory=list)
    claimed: Claimed | None = None

    def audit(self, mode: str) -> tuple[str, dict]:
        """The audit action and details ("contact.assigned" or "contact.queued")."""
        seen = [
            {
                "operator_id": c.operator_id,
                "name": self.names.get(c.operator_id),
                "weight": c.weight,
                "load": c.load,
                "max_load": c.max_load,
            }
            for c in self.candidates
        ]
        refused = [d.operator_id for d in self.draws if self.claimed is None or d is not self.draws[-1]]
        if self.claimed is None:
            return "contact.queued", {
                "mode": mode, "reason": "no_operator_free", "candidates": seen, "refused": refused,
            }
        last = self.draws[-1]
        return "contact.assigned", {
            "mode": mode,
            "operator_id": self.claimed.id,
            "operator_name": self.claimed.name,
            "candidates": seen,
            "draw": {"value": last.value, "total": last.total},
            "refused": refused,
        }


@dataclass(frozen=True)
class IntakeSource:
    id: int
    webhook_token: str
    candidates: list[Candidate]  # eligible when read
    names: dict[int, str]  # the candidates' names


def source_for_intake(conn: Connection, key: str) -> IntakeSource | None:
    """The active source with its eligible operators, in one statement."""
    rows = _SOURCE_AND_CANDIDATES.all(conn, {"key": key})
    if not rows:
        return None
    eligible = [row for row in rows if row[2] is not None]
    return IntakeSource(
        rows[0][0],
        rows[0][1],
        [Candidate(op_id, weight, True, load, cap) for _, _, op_id, _, weight, load, cap in eligible],
        {row[2]: row[3] for row in eligible},
    )


def claim_capacity(conn: Connection, operator_id: int) -> Claimed | None:
    """Take one unit of the operator's capacity atomically; None if it has none."""
    row = _CLAIM.first(conn, {"chosen_id": operator_id})
    return Claimed(*row) if row else None


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


def choose_and_claim(
    conn: Connection,
    source_id: int,
    rng: random.Random,
    candidates: list[Candidate] | None = None,
    names: dict[int, str] | None = None,
) -> Decision:
    """Weighted random choice among eligible operators, capacity claimed.

    `candidates` (and their `names`) may have been read earlier in the same
    transaction (the webhook reads them with the source). If the drawn
    operator filled up since the candidates were read, draw again among the
    rest; `decision.claimed` is None when nobody is left.
    """
    if candidates is None:
        candidates, names = eligible_candidates(conn, source_id)
    decision = Decision(list(candidates), dict(names or {}))
    while candidates:
        draw = draw_operator(candidates, rng)
        if draw is None:
            break
        decision.draws.append(draw)
        claimed = claim_capacity(conn, draw.operator_id)
        if claimed is not None:
            decision.claimed = claimed
            break
        candidates = [c for c in candidates if c.operator_id != draw.operator_id]
    return decision
