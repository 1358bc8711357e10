"""How the team is doing: counts, nearest-rank medians and 90th percentiles, outcomes, the period.

Contacts are stored as rows (operator, assigned_at, first_opened_at,
closed_at, outcome), as assignment, opening and closing leave them. The
percentiles are checked by hand on a small set and against a Python
nearest-rank reference on seeded random ones, on both engines.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import update

from crm_web.domain.outcomes import OUTCOMES
from crm_web.models import Contact, Lead, Operator
from crm_web.services.reports import Period
from crm_web.services.team_report import MEDIAN, P90, nearest_rank, team_report

DAY = date(2025, 3, 10)
MARCH = Period(date(2025, 3, 1), date(2025, 3, 31))
MIN, HOUR = 60, 3600


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def contact(operator, assigned: datetime, opened: float | None = None, closed: float | None = None,
            outcome: str | None = None) -> dict:
    """A contact assigned to `operator` at `assigned`, opened and closed so many seconds after it."""
    return {
        "operator_id": operator.id if operator else None,
        "assigned_at": assigned if operator else None,
        "created_at": assigned,
        "first_opened_at": None if opened is None else assigned + timedelta(seconds=opened),
        "closed_at": None if closed is None else assigned + timedelta(seconds=closed),
        "is_active": closed is None,
        "outcome": outcome if closed is not None else None,
    }


@pytest.fixture
def put(session, factory):
    source = factory.source("Site")

    def store(rows: list[dict]) -> None:
        lead = Lead(name="Team client")
        session.add(lead)
        session.flush()
        session.add_all(Contact(lead_id=lead.id, source_id=source.id, **row) for row in rows)
        session.commit()

    return store


def delete(session, operator) -> None:
    session.execute(update(Operator).where(Operator.id == operator.id).values(deleted_at=at(DAY)))
    session.commit()


def by_name(report) -> dict:
    return {row.name: row for row in report.operators}


def test_figures_of_a_small_team_by_hand(session, factory, put):
    anna, boris, dmitry, egor = (factory.operator(name) for name in ("Anna", "Boris", "Dmitry", "Egor"))
    factory.operator("Clara")
    put([
        contact(anna, at(DAY, 9), opened=2 * MIN, closed=30 * MIN, outcome="done"),
        contact(anna, at(DAY, 10), opened=4 * MIN, closed=80 * MIN, outcome="done"),
        contact(anna, at(DAY, 11), opened=10 * MIN, closed=3 * HOUR, outcome="no_answer"),
        contact(anna, at(DAY, 12), opened=1 * MIN),  # still open
        contact(boris, at(DAY, 9), closed=5 * MIN, outcome="spam"),  # closed unopened
        contact(boris, at(DAY, 13), opened=20 * MIN, closed=51 * HOUR, outcome="duplicate"),
        contact(egor, at(DAY, 14), opened=3 * MIN),  # Egor is deleted later, this stays his
        contact(anna, at(date(2025, 2, 28), 23), opened=99 * HOUR),  # before the period
        contact(anna, at(date(2025, 4, 1), 0), opened=99 * HOUR),  # after it
        contact(None, at(DAY, 15)),  # waiting in the queue
    ])
    delete(session, dmitry)
    delete(session, egor)

    report = team_report(session, MARCH)
    rows = by_name(report)
    # Dmitry is deleted and received nothing: left out. Clara received nothing: listed, empty.
    assert list(rows) == ["Anna", "Boris", "Clara", "Egor"]
    assert rows["Egor"].deleted and not rows["Anna"].deleted

    a = rows["Anna"].figures
    assert (a.received, a.closed, a.still_open) == (4, 3, 1)
    # Opened after 1, 2, 4, 10 min: ranks ceil(0.5·4) = 2 and ceil(0.9·4) = 4.
    assert (a.to_open.count, a.to_open.median, a.to_open.p90) == (
        4, pytest.approx(2 * MIN), pytest.approx(10 * MIN))
    # Closed after 30 min, 1 h 20 min, 3 h: ranks 2 and 3.
    assert (a.to_close.count, a.to_close.median, a.to_close.p90) == (
        3, pytest.approx(80 * MIN), pytest.approx(3 * HOUR))
    assert a.outcomes == {"done": 2, "no_answer": 1, "spam": 0, "duplicate": 0}
    assert a.share("done") == pytest.approx(2 / 3) and a.share("spam") == 0

    b = rows["Boris"].figures
    assert (b.to_open.count, b.to_open.median, b.to_open.p90) == (
        1, pytest.approx(20 * MIN), pytest.approx(20 * MIN))
    # An even count: the median is the lower middle value (rank 1 of 2).
    assert (b.to_close.median, b.to_close.p90) == (pytest.approx(5 * MIN), pytest.approx(51 * HOUR))
    assert (b.share("spam"), b.share("duplicate"), b.still_open) == (0.5, 0.5, 0)

    c = rows["Clara"].figures
    assert (c.received, c.to_open.median, c.to_close.p90, c.share("done")) == (0, None, None, None)

    e = rows["Egor"].figures
    assert (e.received, e.to_open.median, e.to_close.count, e.share("done")) == (
        1, pytest.approx(3 * MIN), 0, None)

    team = report.team
    assert (team.received, team.closed, team.still_open) == (7, 5, 2)
    # Opened after 1, 2, 3, 4, 10, 20 min: ranks 3 and 6.
    # Closed after 5, 30, 80, 180, 3060 min: ranks 3 and 5.
    assert (team.to_open.count, team.to_open.median, team.to_open.p90) == (
        6, pytest.approx(3 * MIN), pytest.approx(20 * MIN))
    assert (team.to_close.count, team.to_close.median, team.to_close.p90) == (
        5, pytest.approx(80 * MIN), pytest.approx(51 * HOUR))
    assert team.outcomes == {"done": 2, "no_answer": 1, "spam": 1, "duplicate": 1}
    assert [r.name for r in report.with_contacts] == ["Anna", "Boris", "Egor"]


def test_a_period_without_assignments_lists_the_team_with_nothing(session, factory, put):
    anna = factory.operator("Anna")
    put([contact(anna, at(DAY), opened=MIN, closed=HOUR, outcome="done")])
    report = team_report(session, Period(date(2025, 5, 1), date(2025, 5, 31)))
    assert [r.name for r in report.operators] == ["Anna"] and not report.with_contacts
    team = report.team
    assert team.received == 0 and team.to_open.median is None and team.share("done") is None


def test_the_period_is_whole_utc_days_of_assignment(session, factory, put):
    anna = factory.operator("Anna")
    start, end = date(2025, 3, 10), date(2025, 3, 12)
    moscow = timezone(timedelta(hours=3))
    put([
        contact(anna, at(start, 0) - timedelta(microseconds=1), opened=1),  # out: a moment before
        contact(anna, at(start, 0), opened=2),  # in: the first moment
        contact(anna, datetime.combine(start, time(2), tzinfo=moscow), opened=3),  # 23:00 UTC the day before
        # In: queued the day before, assigned in the period.
        {**contact(anna, at(start, 8), opened=4), "created_at": at(start - timedelta(days=1), 20)},
        contact(anna, at(end, 23, 59) + timedelta(seconds=59, microseconds=999999), opened=5),  # in: the last
        contact(anna, at(end + timedelta(days=1), 0), opened=6),  # out: the next day
    ])
    figures = by_name(team_report(session, Period(start, end)))["Anna"].figures
    assert figures.received == 3
    assert (figures.to_open.median, figures.to_open.p90) == (pytest.approx(4), pytest.approx(5))
    # One day only: the day's contacts and none of the next.
    assert by_name(team_report(session, Period(end, end)))["Anna"].figures.received == 1


def reference(values: list[float], fraction: tuple[int, int]) -> float | None:
    """Nearest-rank, as textbooks define it: the value at rank ⌈p·n⌉ of the sorted values."""
    if not values:
        return None
    num, den = fraction
    return sorted(values)[math.ceil(num / den * len(values)) - 1]


@pytest.mark.parametrize("seed", [20261205, 7, 99])
def test_percentiles_match_the_nearest_rank_reference_on_random_data(session, factory, put, seed):
    rng = random.Random(seed)
    operators = [factory.operator(f"Op {i}") for i in range(7)]
    expected: dict[str, dict[str, list[float]]] = {}
    rows = []
    for i, operator in enumerate(operators):
        count = [1, 2, 3, 10, 41, rng.randrange(50, 120), 4][i]
        never_opened = i == 6
        mine = expected[operator.name] = {"to_open": [], "to_close": []}
        for _ in range(count):
            assigned = at(DAY) + timedelta(seconds=rng.randrange(20 * 86400))
            # Whole seconds, with ties, some never opened or not closed yet.
            opened = None if never_opened else rng.choice(
                [None, rng.randrange(0, 600), rng.randrange(0, 200_000), 300])
            closed = rng.choice([None, rng.randrange(0, 400_000), 3600])
            if opened is not None:
                mine["to_open"].append(opened)
            if closed is not None:
                mine["to_close"].append(closed)
            rows.append(contact(operator, assigned, opened, closed, rng.choice(OUTCOMES)))
    put(rows)

    report = team_report(session, MARCH)
    everyone = {m: [v for mine in expected.values() for v in mine[m]] for m in ("to_open", "to_close")}
    for name, figures in [(r.name, r.figures) for r in report.operators] + [("team", report.team)]:
        values = everyone if name == "team" else expected[name]
        for measure in ("to_open", "to_close"):
            spread = getattr(figures, measure)
            assert spread.count == len(values[measure]), (name, measure)
            for got, fraction in ((spread.median, MEDIAN), (spread.p90, P90)):
                want = reference(values[measure], fraction)
                assert got == want, (name, measure, fraction)  # whole seconds: exact, to the millisecond


def test_nearest_rank_is_the_ceiling_of_p_times_n():
    for n in range(1, 2001):
        assert nearest_rank(n, MEDIAN) == math.ceil(n / 2)
        assert nearest_rank(n, P90) == math.ceil(9 * n / 10)
    assert [nearest_rank(n, P90) for n in (1, 9, 10, 11, 20)] == [1, 9, 9, 10, 18]


def test_a_contact_closed_without_an_outcome_counts_as_done(session, factory, put):
    anna = factory.operator("Anna")
    put([{**contact(anna, at(DAY), opened=MIN, closed=HOUR, outcome="done"), "outcome": None},
         contact(anna, at(DAY, 11), opened=MIN, closed=HOUR, outcome="spam")])
    figures = by_name(team_report(session, MARCH))["Anna"].figures
    assert (figures.outcomes["done"], figures.outcomes["spam"], figures.still_open) == (1, 1, 0)
