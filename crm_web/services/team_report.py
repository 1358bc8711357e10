"""How the team is doing: per operator over a period, what it received, how fast, and how it ended.

Definitions (also stated on the page and in docs/pages.md):

- An operator **received** a contact in the period when the contact is
  assigned to it now and its `assigned_at` falls in the period (days of the
  viewer's zone, as UTC bounds).
  The report reads contacts as they are now: a contact taken back and
  assigned again counts for its current operator, from its latest
  assignment (`first_opened_at` is cleared on every assignment).
- **Time to first opening**: `first_opened_at - assigned_at`, over the
  received contacts the operator has opened. **Time to closing**:
  `closed_at - assigned_at`, over those closed. Contacts not opened or not
  closed yet are not in the times; their counts are beside them.
- **Outcomes** are shares of the received contacts that are closed
  (`outcome` is set on closing, NULL while active; one closed without it
  counts as done, as migration 0005 recorded those closed before outcomes
  existed); the rest are still open.
- Percentiles are **nearest-rank**: the p-th percentile of n values is the
  value at rank ceil(p·n) in ascending order, an actual duration, such that
  at least p of the contacts took that long or less. The median is the 50th
  (for an even n the lower of the two middle values), and `nearest_rank` is
  the rule in Python.

One statement whatever the period or the number of operators, with a row
per operator and one for the team. On PostgreSQL, percentile_disc (which is
nearest-rank) grouped by ROLLUP(operator_id); on SQLite, which has no
percentile functions, window functions number the durations within each
operator and within the team, and a grouped select keeps the values at the
ranks ceil(p·n). tests/services/test_team_report.py holds both to a Python
reference. The period's contacts are read from ix_contacts_assigned_at, which
holds every column the statement needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, tzinfo

from sqlalchemy import (
    CompoundSelect,
    Float,
    Interval,
    Select,
    case,
    cast,
    extract,
    func,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from ..domain.outcomes import DEFAULT_OUTCOME, OUTCOMES
from ..models import Contact, Operator
from . import reports
from .reports import Period

# Percentiles as exact fractions: the rank ceil(p·n) in integer arithmetic (SQLite, Python).
MEDIAN = (1, 2)
P90 = (9, 10)
PERCENTILES = {"median": MEDIAN, "p90": P90}
MEASURES = ("to_open", "to_close")


def nearest_rank(n: int, fraction: tuple[int, int]) -> int:
    """The 1-based rank of the nearest-rank percentile `fraction` of n values: ceil(n·p)."""
    num, den = fraction
    return (n * num + den - 1) // den


@dataclass(frozen=True)
class Spread:
    """How long something took: over `count` contacts, the median and the 90th percentile in seconds."""

    count: int
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class Figures:
    """One operator's (or the whole team's) figures for the period."""

    received: int = 0
    to_open: Spread = Spread(0)  # count: received contacts opened
    to_close: Spread = Spread(0)  # count: received contacts closed
    outcomes: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    @property
    def closed(self) -> int:
        """Received contacts with an outcome, i.e. closed."""
        return sum(self.outcomes.values())

    @property
    def still_open(self) -> int:
        return self.received - self.closed

    def share(self, outcome: str) -> float | None:
        """The outcome's share of the closed contacts; None when none is closed."""
        return self.outcomes[outcome] / self.closed if self.closed else None


@dataclass(frozen=True)
class OperatorRow:
    operator_id: int
    name: str
    is_active: bool
    deleted: bool
    figures: Figures


@dataclass(frozen=True)
class TeamReport:
    period: Period
    operators: list[OperatorRow]  # by name: every operator not deleted, and deleted ones that received some
    team: Figures  # every operator's contacts together

    @property
    def with_contacts(self) -> list[OperatorRow]:
        return [row for row in self.operators if row.figures.received]


def parse_period(session: Session, args: Mapping[str, str], today: date, zone: tzinfo = UTC) -> Period:
    """`from` and `to` read as the fairness report reads them (defaults, limits); raises ValidationError."""
    period_args = {name: args.get(name) or "" for name in ("from", "to")}
    return reports.parse_filters(session, period_args, today, zone).period


def team_report(session: Session, period: Period) -> TeamReport:
    """The period's figures per operator and for the team, in one statement (see the module docstring)."""
    rows = session.execute(team_statement(session.get_bind().dialect.name, period)).all()
    team = Figures()
    operators = []
    for row in rows:
        figures = _figures(row._mapping)
        if row.id is None:  # the team's row
            team = figures
        else:
            deleted = row.deleted_at is not None
            operators.append(OperatorRow(row.id, row.name, row.is_active, deleted, figures))
    operators.sort(key=lambda r: (r.name.lower(), r.operator_id))
    return TeamReport(period, operators, team)


def team_statement(dialect: str, period: Period) -> Select | CompoundSelect:
    """A row per operator not deleted and per deleted one that received some, and the team's row (`id`
    NULL), each with `received`, `<measure>_count`, `<measure>_median`, `<measure>_p90` (seconds) and a
    count per outcome."""
    if dialect == "postgresql":
        return _ordered_set_statement(period)
    return _window_statement(period)


def _in_period(period: Period) -> list:
    return [
        Contact.assigned_at >= period.starts_at,
        Contact.assigned_at < period.ends_at,
        Contact.operator_id.is_not(None),
    ]


# Closed without an outcome (before outcomes existed): done, as migration 0005 recorded them.
_outcome = func.coalesce(Contact.outcome, case((Contact.closed_at.is_not(None), DEFAULT_OUTCOME)))


def _ordered_set_statement(period: Period) -> Select:
    """PostgreSQL: percentile_disc, grouped by operator and for everyone (ROLLUP).

    percentile_disc(p) is the first value whose position in the order reaches
    p, i.e. rank ceil(p·n) (computed in floating point: the same rank as
    `nearest_rank` for every n below ten million, checked). Both percentiles
    of a measure come from one sort (the array form), and the sorts are per
    group, of durations only: far cheaper than windows over whole rows.
    """
    fractions = postgresql.array([num / den for num, den in PERCENTILES.values()])
    columns = [func.count().label("received")]
    for measure, value in _pg_measures().items():
        columns.append(func.count(value).label(f"{measure}_count"))
        picked = func.percentile_disc(fractions).within_group(value)
        columns.append(type_coerce(picked, postgresql.ARRAY(Interval)).label(f"{measure}_picked"))
    columns += [func.count().filter(_outcome == outcome).label(outcome) for outcome in OUTCOMES]
    figures = (
        select(Contact.operator_id, *columns)
        .where(*_in_period(period))
        .group_by(func.rollup(Contact.operator_id))
        .subquery("figures")
    )
    percentiles = [
        cast(extract("epoch", figures.c[f"{measure}_picked"][i + 1]), Float).label(f"{measure}_{name}")
        for measure in MEASURES
        for i, name in enumerate(PERCENTILES)
    ]
    counted = ["received", *(f"{measure}_count" for measure in MEASURES), *OUTCOMES]
    return (
        select(Operator.id, Operator.name, Operator.is_active, Operator.deleted_at,
               *(figures.c[name] for name in counted), *percentiles)
        .select_from(figures)
        .join(Operator, Operator.id == figures.c.operator_id, full=True)
        # The rollup's row has no operator; an operator without contacts has no figures.
        .where(or_(Operator.deleted_at.is_(None), figures.c.received.is_not(None)))
    )


def _pg_measures() -> dict:
    """Durations as intervals: they sort by length, and only the picked ones become seconds."""
    return {
        "to_open": Contact.first_opened_at - Contact.assigned_at,
        "to_close": Contact.closed_at - Contact.assigned_at,
    }


def _window_statement(period: Period) -> CompoundSelect:
    """SQLite (no percentile functions): ranks by window functions, then the values at the ranks.

    The period's contacts are read once (a CTE used several times is
    materialized) with each duration in days (UTCDateTime is ISO text there,
    which julianday() reads); per measure one window numbers the durations
    within each operator and another within the team, over two columns only;
    the counts come from a grouped select, not from windows.
    """
    contacts = select(
        Contact.operator_id,
        _outcome.label("outcome"),
        (func.julianday(Contact.first_opened_at) - func.julianday(Contact.assigned_at)).label("to_open"),
        (func.julianday(Contact.closed_at) - func.julianday(Contact.assigned_at)).label("to_close"),
    ).where(*_in_period(period)).cte("contacts_of_period")
    counts = select(
        contacts.c.operator_id,
        func.count().label("received"),
        *(func.count(contacts.c[m]).label(f"{m}_count") for m in MEASURES),
        *(func.count().filter(contacts.c.outcome == outcome).label(outcome) for outcome in OUTCOMES),
    ).group_by(contacts.c.operator_id).cte("counts")
    team_counts = select(*(func.sum(counts.c[f"{m}_count"]).label(f"{m}_count") for m in MEASURES)).cte(
        "team_counts"
    )

    picks = {}
    for measure in MEASURES:
        value = contacts.c[measure]
        ranked = select(
            contacts.c.operator_id,
            value.label("value"),
            func.row_number().over(partition_by=contacts.c.operator_id, order_by=value).label("rank"),
            func.row_number().over(order_by=value).label("team_rank"),
        ).where(value.is_not(None)).cte(f"{measure}_ranked")
        wanted = {
            (scope, name): (ranked.c[f"{scope}rank"], _rank_sql(n.c[f"{measure}_count"], fraction))
            for scope, n in (("", counts), ("team_", team_counts))
            for name, fraction in PERCENTILES.items()
        }
        picks[measure] = (
            select(
                ranked.c.operator_id,
                *(func.max(case((rank == at, ranked.c.value))).label(f"{scope}{name}")
                  for (scope, name), (rank, at) in wanted.items()),
            )
            # Outer joins keep SQLite's order: the ranked rows scanned, the counts looked up.
            .outerjoin(counts, counts.c.operator_id == ranked.c.operator_id)
            .outerjoin(team_counts, true())
            .where(or_(*(rank == at for rank, at in wanted.values())))
            .group_by(ranked.c.operator_id)
            .cte(f"{measure}_picked")
        )

    def seconds(days):
        return days * 86400.0

    per_operator = (
        select(
            Operator.id, Operator.name, Operator.is_active, Operator.deleted_at,
            counts.c.received,
            *(column for m in MEASURES for column in (
                counts.c[f"{m}_count"],
                *(seconds(picks[m].c[name]).label(f"{m}_{name}") for name in PERCENTILES),
            )),
            *(counts.c[outcome] for outcome in OUTCOMES),
        )
        .outerjoin(counts, counts.c.operator_id == Operator.id)
        .outerjoin(picks["to_open"], picks["to_open"].c.operator_id == Operator.id)
        .outerjoin(picks["to_close"], picks["to_close"].c.operator_id == Operator.id)
        .where(or_(Operator.deleted_at.is_(None), counts.c.operator_id.is_not(None)))
    )
    # The team's row: the counts summed, and each percentile from the operator's group holding its rank.
    team = (
        select(
            null().label("id"), null().label("name"), null().label("is_active"), null().label("deleted_at"),
            func.sum(counts.c.received),
            *(column for m in MEASURES for column in (
                func.sum(counts.c[f"{m}_count"]),
                *(seconds(func.max(picks[m].c[f"team_{name}"])) for name in PERCENTILES),
            )),
            *(func.sum(counts.c[outcome]) for outcome in OUTCOMES),
        )
        .select_from(counts)
        .outerjoin(picks["to_open"], picks["to_open"].c.operator_id == counts.c.operator_id)
        .outerjoin(picks["to_close"], picks["to_close"].c.operator_id == counts.c.operator_id)
    )  # without contacts: one row of NULLs, read as no figures
    return union_all(per_operator, team)


def _rank_sql(n, fraction: tuple[int, int]):
    """`nearest_rank` in SQL, integer division included."""
    num, den = fraction
    return (n * num + (den - 1)) // den


def _figures(values: Mapping) -> Figures:
    if not values["received"]:
        return Figures()

    def spread(measure: str) -> Spread:
        count = int(values[f"{measure}_count"] or 0)
        return Spread(count, _ms(values[f"{measure}_median"]), _ms(values[f"{measure}_p90"]))

    return Figures(
        received=int(values["received"]),
        to_open=spread("to_open"),
        to_close=spread("to_close"),
        outcomes={o: int(values[o] or 0) for o in OUTCOMES},
    )


def _ms(seconds) -> float | None:
    """Seconds to the millisecond: SQLite's julianday() keeps no more, and its float arithmetic
    leaves some noise below that."""
    return None if seconds is None else round(float(seconds), 3)
