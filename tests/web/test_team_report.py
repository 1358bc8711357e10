"""/reports/team: the page a supervisor reads, who may read it, its period, and what it costs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from crm_web.core.extensions import db
from crm_web.domain.outcomes import OUTCOMES
from crm_web.models import Contact, Lead
from crm_web.web.reports import duration

URL = "/reports/team"
MIN, HOUR = 60, 3600


def today() -> date:
    return datetime.now(UTC).date()


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def put(app, factory):
    """Store contacts assigned to an operator: (assigned_at, opened after s, closed after s, outcome)."""
    source = factory.source("Site")

    def store(operator, rows) -> None:
        with app.app_context():
            lead = Lead(name="Team client")
            db.session.add(lead)
            db.session.flush()
            for assigned, opened, closed, outcome in rows:
                db.session.add(Contact(
                    lead_id=lead.id, source_id=source.id, operator_id=operator.id, created_at=assigned,
                    assigned_at=assigned,
                    first_opened_at=None if opened is None else assigned + timedelta(seconds=opened),
                    closed_at=None if closed is None else assigned + timedelta(seconds=closed),
                    is_active=closed is None, outcome=outcome,
                ))
            db.session.commit()
            db.session.remove()

    return store


def rows_of(html: str) -> dict[str, list[str]]:
    """The team table's body and foot rows as {first cell: the other cells}, tags and spaces dropped."""
    table = html[html.index('class="report-table team-table"'):]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table[table.index("<tbody>"):], re.S):
        cells = [text_of(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def test_the_page_shows_each_operators_figures_and_the_team(client, sign_in, factory, put):
    anna, boris = factory.operator("Anna"), factory.operator("Boris")
    factory.operator("Clara")  # nothing in the period
    day = today() - timedelta(days=2)
    put(anna, [
        (at(day, 9), 2 * MIN, 30 * MIN, "done"),
        (at(day, 10), 4 * MIN, 80 * MIN, "done"),
        (at(day, 11), 10 * MIN, 3 * HOUR, "no_answer"),
        (at(day, 12), 1 * MIN, None, None),
    ])
    put(boris, [(at(day, 9), None, 5 * MIN, "spam"), (at(day, 13), 20 * MIN, 51 * HOUR, "duplicate")])
    sign_in("supervisor")
    html = client.get(URL).get_data(as_text=True)

    rows = rows_of(html)
    # Received | opening median, 90% | closing median, 90% | done, no answer, spam, duplicate | still open
    assert rows["Anna"] == ["4", "2 min", "10 min", "1 h 20 min", "3 h", "67%", "33%", "0%", "0%", "1"]
    assert rows["Boris"] == ["2", "20 min", "20 min", "5 min", "2 d 3 h", "0%", "0%", "50%", "50%", "0"]
    assert rows["Clara"] == ["0", "—", "—", "—", "—", "—", "—", "—", "—", "—"]
    # Opened after 1, 2, 4, 10, 20 min; closed after 5 min, 30 min, 1 h 20 min, 3 h, 51 h.
    assert rows["The whole team"] == [
        "6", "4 min", "20 min", "1 h 20 min", "2 d 3 h", "40%", "20%", "20%", "20%", "1"]
    page = text_of(html)
    assert "Contacts received 6 1 still open" in page
    assert "Time to first opening 4 min median; 90% within 20 min" in page
    assert "Closed as done 40%" in page
    # The charts: a median and a 90th-percentile bar per operator with contacts (Clara has none).
    for chart in ("chart-open", "chart-close"):
        svg = re.search(rf'<svg [^>]*id="{chart}".*?</svg>', html, re.S).group(0)
        assert svg.count('class="bar bar-actual"') == 2 and svg.count('class="bar bar-configured"') == 2
        assert "Clara" not in svg
    outcomes = re.search(r'<svg [^>]*id="chart-outcomes".*?</svg>', html, re.S).group(0)
    assert outcomes.count('class="bar bar-outcome-') == 4  # Anna: done, no answer; Boris: spam, duplicate
    assert "Anna, Done: 2 of 3 closed (67%)" in outcomes
    assert "3 closed" in outcomes and "2 closed" in outcomes


def test_operator_names_are_escaped_in_the_table_and_the_charts(client, sign_in, factory, put):
    hostile = factory.operator("<script>alert(1)</script>")
    put(hostile, [(at(today()), MIN, HOUR, "done")])
    sign_in("supervisor")
    html = client.get(URL).get_data(as_text=True)
    assert "<script>alert" not in html
    # In the table, the charts' tooltips and their descriptions.
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3


def test_the_period_filter_counts_assignments_of_those_days(client, sign_in, factory, put):
    anna = factory.operator("Anna")
    put(anna, [(at(today() - timedelta(days=days)), MIN, None, None) for days in (40, 10, 3, 0)])
    sign_in("supervisor")
    assert rows_of(client.get(URL).get_data(as_text=True))["Anna"][0] == "3"  # the last 30 days
    start, end = (today() - timedelta(days=d) for d in (10, 3))
    response = client.get(f"{URL}?from={start.isoformat()}&to={end.isoformat()}")
    assert rows_of(response.get_data(as_text=True))["Anna"][0] == "2"  # both ends included
    assert f'value="{start.isoformat()}"' in response.get_data(as_text=True)
    assert "(8 days, UTC)" in text_of(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=yesterday", "from", "Use a date such as 2025-01-31."),
        ("from=2025-03-10&to=2025-03-01", "from", "The start of the period is after its end."),
        ("from=2023-01-01&to=2025-01-01", "from", "The period is longer than 366 days."),
    ],
)
def test_a_bad_period_is_refused_on_its_field(client, sign_in, query, field, message):
    sign_in("supervisor")
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 422
    assert f'id="{field}-help" class="field-error">{message}</small>' in response.get_data(as_text=True)


def test_operators_may_not_see_the_team_report(client, sign_in):
    sign_in("operator")
    assert client.get(URL).status_code == 403


def test_anonymous_visitors_go_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_fairness_report_links_to_the_team_report(client, sign_in):
    sign_in("supervisor")
    assert f'href="{URL}"' in client.get("/reports/distribution").get_data(as_text=True)
    assert 'href="/reports/distribution"' in client.get(URL).get_data(as_text=True)


def test_the_page_costs_the_same_queries_for_one_operator_and_a_week_as_for_many_and_a_year(
    client, sign_in, factory, put, count_queries
):
    sign_in("supervisor")
    first = factory.operator("Op 0")
    put(first, [(at(today() - timedelta(days=d)), MIN * d, HOUR, "done") for d in range(0, 366, 30)])

    def queries(days: int) -> int:
        start = (today() - timedelta(days=days - 1)).isoformat()
        count, response = count_queries(lambda: client.get(f"{URL}?from={start}"))
        assert response.status_code == 200 and 'id="chart-open"' in response.get_data(as_text=True)
        return count

    one_week = queries(7)
    for i in range(1, 8):
        operator = factory.operator(f"Op {i}")
        put(operator, [(at(today() - timedelta(days=d)), MIN * i, HOUR * d, OUTCOMES[d % 4])
                       for d in range(0, 366, 7)])
    assert queries(366) == queries(7) == one_week


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (None, "—"),
        (0, "0 s"),
        (44.6, "45 s"),
        (59.4, "59 s"),
        (89, "1 min"),
        (4 * MIN + 20, "4 min"),
        (59 * MIN + 40, "1 h"),
        (80 * MIN, "1 h 20 min"),
        (23 * HOUR + 59 * MIN + 50, "1 d"),
        (51 * HOUR, "2 d 3 h"),
        (400 * 24 * HOUR, "400 d"),
    ],
)
def test_durations_read_as_a_supervisor_says_them(app, seconds, said):
    with app.test_request_context():
        assert duration(seconds) == said
