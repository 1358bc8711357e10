"""The fairness report: configured against actual shares per source, and the queue over time.

Definitions (also stated on the page):

- A contact was **assigned automatically** when its `assigned_at` equals its
  `created_at`: the intake sets both from one timestamp when it finds a free
  operator. Any other contact of the period **went to the queue**: nobody
  was free at intake, so it was assigned later (by hand or by a queue drain)
  or never.
- The report reads the contacts as they are now, not an event history: a
  contact whose operator was deleted, or that came back to the queue unopened,
  and was assigned again counts as queued (its `assigned_at` is the later one).
- Configured shares come from the **current** weight table; the statistical
  test compares the automatically assigned contacts with those shares among
  the operators that could have received them (see `_eligible`).
- Days are the viewer's: a period's days run from midnight to midnight in
  its zone (UTC unless told), turned into UTC bounds for the queries. A
  queued contact waits from `created_at` until `assigned_at`, else
  `closed_at`, else now.

Everything is aggregated by the database (grouped by source and operator, or
by day); Python only touches one row per operator or per day, so a period of
many contacts costs no memory. Periods are at most MAX_DAYS long.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ..domain import fairness
from ..domain.choice import shares
from ..domain.errors import ValidationError
from ..domain.local_time import day_start, offset_spans
from ..domain.messages import N_
from ..models import Contact, Distribution, Operator, Source
from .local_sql import local_date
from .validation import is_id

_DIGITS = re.compile(r"[0-9]{1,10}")
DEFAULT_DAYS = 30
MAX_DAYS = 366

# Contact states used by every query (see the module docstring).
is_auto_assigned = and_(Contact.operator_id.is_not(None), Contact.assigned_at == Contact.created_at)
went_to_queue = or_(
    Contact.operator_id.is_(None), Contact.assigned_at.is_(None), Contact.assigned_at != Contact.created_at
)
left_queue_at = func.coalesce(Contact.assigned_at, Contact.closed_at)


# --- filters -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole days of `zone`, `start` to `end` inclusive."""

    start: date
    end: date
    zone: tzinfo = UTC

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def starts_at(self) -> datetime:
        return day_start(self.start, self.zone)

    @property
    def ends_at(self) -> datetime:
        """The first moment after the period."""
        return day_start(self.end + timedelta(days=1), self.zone)

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class ReportFilters:
    source_id: int | None  # None: every source
    period: Period


def parse_filters(
    session: Session, args: Mapping[str, str], today: date, zone: tzinfo = UTC
) -> ReportFilters:
    """Read `source`, `from` and `to` (ISO dates, days of `zone`) from query arguments.

    Defaults: every source, the last DEFAULT_DAYS days up to today (`zone`'s). A `to`
    after today is cut to today (the future has no contacts yet). Raises
    ValidationError naming the bad fields.
    """
    errors: dict[str, list[str]] = {}
    source_id = None
    raw_source = (args.get("source") or "").strip()
    if raw_source:
        if not _DIGITS.fullmatch(raw_source) or not is_id(int(raw_source)):
            errors["source"] = [N_("Choose a source from the list.")]
        elif session.get(Source, int(raw_source)) is None:
            errors["source"] = [N_("There is no source %(id)s.", id=raw_source)]
        else:
            source_id = int(raw_source)
    end = _date_arg(args, "to", errors) or today
    start = _date_arg(args, "from", errors) or (min(end, today) - timedelta(days=DEFAULT_DAYS - 1))
    end = min(end, today)
    if not errors:
        if start > today:
            errors["from"] = [N_("The period starts in the future.")]
        elif start > end:
            errors["from"] = [N_("The start of the period is after its end.")]
        elif (end - start).days + 1 > MAX_DAYS:
            errors["from"] = [N_("The period is longer than %(days)s days.", days=MAX_DAYS)]
    if errors:
        raise ValidationError(errors, N_("Some filters are not valid."))
    return ReportFilters(source_id, Period(start, end, zone))


def _date_arg(args: Mapping[str, str], name: str, errors: dict[str, list[str]]) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or len(raw) != 10 or value.year < 2000:
        errors[name] = [N_("Use a date such as 2025-01-31.")]
        return None
    return value


# --- shares per source ----------------------------------------------------------------


@dataclass(frozen=True)
class OperatorShare:
    operator_id: int
    name: str
    weight: Decimal | None  # in the current weight table; None: no rule now
    configured_share: float  # of the current table's total weight
    received: int  # contacts assigned to it automatically in the period
    actual_share: float  # of the source's automatically assigned contacts
    eligible: bool  # part of the test
    expected: float | None  # under the test (configured shares among the eligible)
    z: float | None  # binomial z-score against `expected`
    is_active: bool
    max_load: int
    deleted: bool

    @property
    def difference(self) -> float:
        return self.actual_share - self.configured_share

    @property
    def stands_out(self) -> bool:
        return self.z is not None and abs(self.z) >= fairness.Z_CRITICAL


@dataclass(frozen=True)
class SourceReport:
    source_id: int
    name: str
    is_active: bool
    operators: list[OperatorShare]
    auto_assigned: int
    queued: int
    test: fairness.GoodnessOfFit | None

    @property
    def total(self) -> int:
        return self.auto_assigned + self.queued

    @property
    def flagged(self) -> bool:
        return self.test is not None and self.test.flagged

    @property
    def outside_rules(self) -> int:
        """Automatically assigned to operators without a rule now (weights changed since)."""
        return sum(o.received for o in self.operators if o.weight is None)

    @property
    def queued_share(self) -> float:
        return self.queued / self.total if self.total else 0.0


def distribution_report(session: Session, filters: ReportFilters) -> list[SourceReport]:
    """Per source (one, or all by name): shares configured against received, and the queued count."""
    source_query = select(Source).order_by(Source.name, Source.id)
    if filters.source_id is not None:
        source_query = source_query.where(Source.id == filters.source_id)
    sources = list(session.scalars(source_query))
    source_ids = [s.id for s in sources]
    if not source_ids:
        return []

    # One grouped scan of the period's contacts (ix_contacts_created_at).
    operator_col = case((is_auto_assigned, Contact.operator_id), else_=None).label("operator_id")
    counts: dict[int, dict[int | None, int]] = {sid: {} for sid in source_ids}
    rows = session.execute(
        select(Contact.source_id, operator_col, func.count())
        .where(*_in_period(filters))
        .group_by(Contact.source_id, operator_col)
    )
    for source_id, operator_id, count in rows:
        counts[source_id][operator_id] = count

    weights: dict[int, dict[int, Decimal]] = {sid: {} for sid in source_ids}
    for rule in session.execute(
        select(Distribution.source_id, Distribution.operator_id, Distribution.weight).where(
            Distribution.source_id.in_(source_ids)
        )
    ):
        weights[rule.source_id][rule.operator_id] = rule.weight

    operator_ids = {op for table in weights.values() for op in table}
    operator_ids |= {op for table in counts.values() for op in table if op is not None}
    operators = {
        o.id: o for o in session.scalars(select(Operator).where(Operator.id.in_(operator_ids)))
    } if operator_ids else {}

    return [
        _source_report(source, counts[source.id], weights[source.id], operators) for source in sources
    ]


def _source_report(
    source: Source,
    counts: dict[int | None, int],
    weights: dict[int, Decimal],
    operators: dict[int, Operator],
) -> SourceReport:
    queued = counts.get(None, 0)
    received = {op: n for op, n in counts.items() if op is not None}
    auto_assigned = sum(received.values())
    configured = shares(weights)
    eligible = {op for op in weights if _eligible(operators[op], received.get(op, 0))}
    test = fairness.chi_square_test(received, {op: configured[op] for op in eligible})
    rows = []
    for op_id in sorted(set(weights) | set(received), key=lambda op: (operators[op].name.lower(), op)):
        operator = operators[op_id]
        got = received.get(op_id, 0)
        expected = test.expected.get(op_id) if test else None
        rows.append(
            OperatorShare(
                operator_id=op_id,
                name=operator.name,
                weight=weights.get(op_id),
                configured_share=configured.get(op_id, 0.0),
                received=got,
                actual_share=got / auto_assigned if auto_assigned else 0.0,
                eligible=op_id in eligible,
                expected=expected,
                z=fairness.binomial_z(got, test.n, expected / test.n) if test and expected else None,
                is_active=operator.is_active,
                max_load=operator.max_load,
                deleted=operator.deleted_at is not None,
            )
        )
    return SourceReport(source.id, source.name, source.is_active, rows, auto_assigned, queued, test)


def _eligible(operator: Operator, received: int) -> bool:
    """Could the operator have received contacts in the period?

    It has a rule now and is not deleted, and either it did receive some
    (so it was available at least part of the time) or it is active now
    with a max_load above 0. An operator paused or at max_load 0 that got
    nothing is left out of the test rather than counted as short-changed.
    """
    if operator.deleted_at is not None:
        return False
    return received > 0 or (operator.is_active and operator.max_load > 0)


def _in_period(filters: ReportFilters) -> list:
    conditions = [
        Contact.created_at >= filters.period.starts_at,
        Contact.created_at < filters.period.ends_at,
    ]
    if filters.source_id is not None:
        conditions.append(Contact.source_id == filters.source_id)
    return conditions


# --- contacts by source and UTM source ------------------------------------------------------

UTM_ROWS_PER_SOURCE = 20  # the most frequent utm_source values shown per source; the rest are summed


@dataclass(frozen=True)
class UtmCount:
    utm_source: str | None  # None: the contact came without one
    contacts: int


@dataclass(frozen=True)
class SourceUtm:
    """A source's contacts of the period by utm_source, the most frequent first."""

    source_id: int
    name: str
    total: int
    kinds: int  # distinct utm_source values (no utm_source counts as one)
    rows: list[UtmCount]  # at most UTM_ROWS_PER_SOURCE

    @property
    def rest(self) -> int:
        """Contacts of the values left out of `rows`."""
        return self.total - sum(row.contacts for row in self.rows)

    @property
    def rest_kinds(self) -> int:
        return self.kinds - len(self.rows)


def utm_report(session: Session, filters: ReportFilters) -> list[SourceUtm]:
    """Contacts of the period per source and utm_source: one query whatever the period.

    Grouped by the database (ix_contacts_created_at), then ranked within each
    source by a window, so that a source with thousands of different values
    (utm_source is whatever the form sent) still returns UTM_ROWS_PER_SOURCE
    rows, with its total and the number of values beside them. Sources without
    contacts in the period are left out.
    """
    grouped = (
        select(Contact.source_id, Contact.utm_source, func.count().label("contacts"))
        .where(*_in_period(filters))
        .group_by(Contact.source_id, Contact.utm_source)
        .subquery("grouped")
    )
    per_source = {"partition_by": grouped.c.source_id}
    ranked = select(
        grouped.c.source_id,
        grouped.c.utm_source,
        grouped.c.contacts,
        func.row_number().over(
            **per_source, order_by=(grouped.c.contacts.desc(), func.coalesce(grouped.c.utm_source, ""))
        ).label("rank"),
        func.sum(grouped.c.contacts).over(**per_source).label("total"),
        func.count().over(**per_source).label("kinds"),
    ).subquery("ranked")
    rows = session.execute(
        select(ranked.c.source_id, Source.name, ranked.c.utm_source, ranked.c.contacts, ranked.c.total,
               ranked.c.kinds)
        .join(Source, Source.id == ranked.c.source_id)
        .where(ranked.c.rank <= UTM_ROWS_PER_SOURCE)
        .order_by(Source.name, Source.id, ranked.c.rank)
    )
    report: list[SourceUtm] = []
    for source_id, name, utm_source, contacts, total, kinds in rows:
        if not report or report[-1].source_id != source_id:
            report.append(SourceUtm(source_id, name, int(total), int(kinds), []))
        report[-1].rows.append(UtmCount(utm_source, int(contacts)))
    return report


# --- the queue over time ---------------------------------------------------------------


@dataclass(frozen=True)
class QueueDay:
    day: date
    entered: int  # contacts of the day that went to the queue
    left: int  # queued contacts assigned or closed that day
    waiting: int  # at the end of the day (for today: now)
    longest_wait: float | None  # seconds; the longest any contact had waited by the end of the day


def queue_report(session: Session, filters: ReportFilters, now: datetime) -> list[QueueDay]:
    """Per day of the period: queue entries, exits, the waiting count and the longest wait.

    The waiting count is the number waiting at the start of the period,
    plus the day's entries, minus the day's exits, accumulated. The longest
    wait on a day is the larger of the longest wait among contacts that
    left that day and the age of the oldest contact still waiting at the
    end of the day. Four aggregate queries, none returning more than one
    row per day.
    """
    period = filters.period
    starts_at, ends_at = period.starts_at, period.ends_at
    source = [Contact.source_id == filters.source_id] if filters.source_id is not None else []
    dialect = session.get_bind().dialect.name
    spans = offset_spans(period.zone, starts_at, ends_at)

    # Grouped by the row's local day, computed in a subquery: its time bounds are parameters,
    # and a GROUP BY must name the selected expression itself.
    entering = (
        select(local_date(dialect, Contact.created_at, spans).label("day"))
        .where(went_to_queue, *_in_period(filters))
        .subquery()
    )
    entered = {
        _as_date(day): count
        for day, count in session.execute(
            select(entering.c.day, func.count()).group_by(entering.c.day)
        )
    }
    leaving = (
        select(
            local_date(dialect, left_queue_at, spans).label("day"),
            Contact.created_at,
            _seconds_between(session, Contact.created_at, left_queue_at).label("waited"),
        )
        .where(went_to_queue, left_queue_at >= starts_at, left_queue_at < ends_at, *source)
        .subquery()
    )
    left: dict[date, tuple[int, datetime, float]] = {}
    for day, count, oldest, longest in session.execute(
        select(leaving.c.day, func.count(), func.min(leaving.c.created_at), func.max(leaving.c.waited))
        .group_by(leaving.c.day)
    ):
        left[_as_date(day)] = (count, _aware(oldest), float(longest or 0))

    # Waiting when the period starts, and the oldest of those still waiting after it ends.
    still_out = or_(left_queue_at.is_(None), left_queue_at >= ends_at)
    waiting_before, oldest_after = session.execute(
        select(
            func.count().filter(Contact.created_at < starts_at),
            func.min(Contact.created_at).filter(still_out),
        ).where(
            went_to_queue,
            Contact.created_at < ends_at,
            or_(left_queue_at.is_(None), left_queue_at >= starts_at),
            *source,
        )
    ).one()
    oldest_after = _aware(oldest_after)

    days = period.each_day()
    # The oldest contact waiting at the end of day i left after day i: the minimum
    # created_at of those leaving on a later day or after the period (a suffix minimum).
    oldest_leaving_later: list[datetime | None] = [None] * len(days)
    running = oldest_after
    for i in range(len(days) - 1, -1, -1):
        oldest_leaving_later[i] = running
        later = left.get(days[i], (0, None, 0.0))[1]
        if later is not None and (running is None or later < running):
            running = later

    report = []
    waiting = waiting_before or 0
    for i, day in enumerate(days):
        end_of_day = min(day_start(day + timedelta(days=1), period.zone), now)
        left_count, _, longest_left = left.get(day, (0, None, 0.0))
        waiting += entered.get(day, 0) - left_count
        longest = longest_left if left_count else None
        oldest = oldest_leaving_later[i]
        if oldest is not None and oldest < end_of_day:
            age = (end_of_day - oldest).total_seconds()
            longest = age if longest is None else max(longest, age)
        report.append(QueueDay(day, entered.get(day, 0), left_count, waiting, longest))
    return report


def _seconds_between(session: Session, earlier, later):
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _aware(value) -> datetime | None:
    """A UTC datetime from an aggregate (SQLite returns text, PostgreSQL a datetime)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
