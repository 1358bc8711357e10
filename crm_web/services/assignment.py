"""The one place that decides who gets a contact, and capacity bookkeeping.

Capacity is claimed with a conditional UPDATE on the operator's maintained
`active_load`: `... SET active_load = active_load + 1 WHERE active_load <
max_load AND is_active`. The database evaluates the check and the increment
as one step on the locked row (PostgreSQL re-checks the condition after
waiting for a concurrent writer; SQLite runs one writer at a time), so no
number of requests or processes can push an operator past max_load.

`draw_and_claim` is the one draw-claim-retry loop: the intake (both of its
strategies, services/intake.py) and the queue's drain (services/drain.py)
run it, each with its own way of claiming the drawn operator.

Lock order, to keep PostgreSQL free of deadlocks: operator row first, then
lead rows (the intake), then the contact rows.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, bindparam, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..core.driver_sql import DriverStatement
from ..domain.choice import Candidate, Draw, draw_operator
from ..models import Distribution, JSONText, Operator, Source
from .tx import write

_NO_SYNC = {"synchronize_session": False}

# Built once: plain Core statements on the tables (no ORM entities), so an
# intake pays neither statement construction nor the ORM's result handling;
# SQLAlchemy compiles each once and keeps it in the engine's statement cache.
_ops = Operator.__table__
_rules = Distribution.__table__
_sources = Source.__table__
_JSON = JSONText()
# The one definition of "may take another contact now" (eligibility and the
# atomic claim both use it).
HAS_CAPACITY = and_(
    _ops.c.is_active.is_(true()),
    _ops.c.deleted_at.is_(None),
    _ops.c.active_load < _ops.c.max_load,
)


def _source_and_candidates(*source_columns, where):
    """The source's columns and, with them, the operators of its weight table
    that may get a contact now (NULLs for the others; no rule at all gives
    one row of NULLs)."""
    return (
        select(
            *source_columns,
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
        .where(where)
        .order_by(_rules.c.operator_id)
    )


# The intake's first statement: the webhook's active source by key (a disabled
# one is as unknown), or the source a staff member chose, which says whether
# it is active (a disabled one is refused with its name).
_SOURCE_BY_KEY = DriverStatement(_source_and_candidates(
    _sources.c.id, _sources.c.webhook_token,
    _sources.c.form_format, _sources.c.field_map, _sources.c.vk_confirmation,
    _sources.c.allowed_origins, _sources.c.thank_you_url,
    where=and_(_sources.c.key == bindparam("key"), _sources.c.is_active.is_(true())),
))
_SOURCE_BY_ID = DriverStatement(_source_and_candidates(
    _sources.c.id, _sources.c.webhook_token, _sources.c.is_active, _sources.c.name,
    where=_sources.c.id == bindparam("source_id"),
))


def _weight(value) -> Decimal:
    """A weight as the driver returns it: Decimal from psycopg, a float or an int from sqlite3."""
    return value if isinstance(value, Decimal) else Decimal(f"{value:.2f}")
# The atomic claim of one unit of an operator's capacity.
_TAKE = (
    update(_ops)
    .where(
        _ops.c.id == bindparam("chosen_id"),
        HAS_CAPACITY,
    )
    .values(active_load=_ops.c.active_load + 1)
)
_CLAIM = DriverStatement(_TAKE.returning(_ops.c.id, _ops.c.name))


@dataclass(frozen=True)
class Claimed:
    """The operator whose capacity was claimed: id and name, for the answer."""

    id: int
    name: str


@dataclass(frozen=True)
class IntakeSource:
    """A source as the intake reads it: with its candidates for the draw."""

    id: int
    webhook_token: str
    candidates: list[Candidate]  # eligible when read
    names: dict[int, str]  # the candidates' names
    is_active: bool = True
    name: str | None = None  # read only for the staff, whose disabled source is refused by name
    # Read only for the webhook: how it reads the request (contract §2a).
    form_format: str = "standard"
    field_map: dict[str, str] | None = None
    vk_confirmation: str | None = None
    # Read only for the webhook: what it answers browsers (services/site_forms.py).
    allowed_origins: str | None = None
    thank_you_url: str | None = None


def read_source(
    conn: Connection, *, key: str | None = None, source_id: int | None = None
) -> IntakeSource | None:
    """The source with its eligible operators, in one statement: by its webhook
    key (active sources only), or by id (whatever its state)."""
    if key is not None:
        rows = _SOURCE_BY_KEY.all(conn, {"key": key})
        state = 7
    else:
        rows = _SOURCE_BY_ID.all(conn, {"source_id": source_id})
        state = 4
    if not rows:
        return None
    eligible = [row[state:] for row in rows if row[state] is not None]
    first = rows[0]
    if key is not None:  # the webhook's: how it reads the request and answers browsers
        # Driver statements get no result processing: the column's own type reads the JSON.
        field_map = _JSON.process_result_value(first[3], conn.dialect)
        more = {
            "form_format": first[2], "field_map": field_map or None, "vk_confirmation": first[4],
            "allowed_origins": first[5], "thank_you_url": first[6],
        }
    else:  # the staff's: whether it is active, and its name
        more = {"is_active": bool(first[2]), "name": first[3]}
    return IntakeSource(
        first[0],
        first[1],
        [Candidate(op_id, _weight(weight), True, load, cap) for op_id, _, weight, load, cap in eligible],
        {op_id: op_name for op_id, op_name, *_ in eligible},
        **more,
    )


def eligible_candidates(conn: Connection, source_id: int) -> tuple[list[Candidate], dict[int, str]]:
    """Operators with a rule for the source, active and below max_load, and their names."""
    source = read_source(conn, source_id=source_id)
    return (source.candidates, source.names) if source else ([], {})


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
                "weight": str(c.weight),  # as audit.to_json would write the Decimal
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


def draw_and_claim(
    candidates: list[Candidate],
    names: dict[int, str],
    rng: random.Random,
    claim: Callable[[Decision], bool],
) -> Decision:
    """Weighted random choice among the candidates, until one is claimed.

    The one draw-claim-retry loop. `claim(decision)` tries to take the drawn
    operator, `decision.claimed`, set as if the claim succeeds (so that a
    claim written in one statement with its audit row can write that row);
    it answers whether it did. A drawn operator that filled up since the
    candidates were read is refused and the draw repeated among the rest;
    `decision.claimed` is None when nobody is left. (The intake's
    one-statement strategy makes one try only: its statement says by itself
    whether the claim was refused, and the intake then runs this loop again,
    step by step.)
    """
    decision = Decision(list(candidates), dict(names))
    remaining = list(candidates)
    while remaining:
        draw = draw_operator(remaining, rng)
        if draw is None:
            break
        decision.draws.append(draw)
        decision.claimed = Claimed(draw.operator_id, decision.names[draw.operator_id])
        if claim(decision):
            return decision
        decision.claimed = None
        remaining = [c for c in remaining if c.operator_id != draw.operator_id]
    return decision


def choose_and_claim(
    conn: Connection, candidates: list[Candidate], names: dict[int, str], rng: random.Random
) -> Decision:
    """`draw_and_claim` with the atomic capacity claim, one UPDATE per try.

    `names` are the candidates' names as read in the same transaction.
    """
    return draw_and_claim(
        candidates, names, rng, lambda decision: take_capacity(conn, decision.claimed.id)
    )


def take_capacity(conn: Connection, operator_id: int) -> bool:
    """Take one unit of the operator's capacity atomically; False if it has none."""
    return write(conn, _TAKE, {"chosen_id": operator_id}).rowcount == 1


def claim_capacity(conn: Connection, operator_id: int) -> Claimed | None:
    """`take_capacity`, answering with the operator's id and name (None if it has no capacity)."""
    rows = _CLAIM.all(conn, {"chosen_id": operator_id})
    return Claimed(*rows[0]) if rows else None


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
