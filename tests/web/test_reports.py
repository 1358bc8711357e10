"""/reports/distribution: configured against actual shares, the flag, the queue over time, filters.

Contacts with a past are stored directly as rows (created_at, operator,
assigned_at, closed_at), as intake and later assignments would have left
them; one test goes through the real webhook to check that an intake's own
assignment is recognised on each engine.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from crm_web.core.extensions import db
from crm_web.domain.errors import ValidationError
from crm_web.models import Contact, Lead
from crm_web.services import reports

URL = "/reports/distribution"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def today() -> date:
    return datetime.now(UTC).date()


def auto(operator, created: datetime) -> tuple:
    """Assigned by the intake itself: assigned_at == created_at."""
    return (created, operator.id, created, None)


def autos(operator, day: date, hour: int, count: int) -> list[tuple]:
    """`count` automatic assignments a minute apart from `hour` on `day`."""
    return [auto(operator, at(day, hour, i)) for i in range(count)]


def queued(created: datetime, assigned: datetime | None = None, operator=None, closed=None):
    return (created, operator.id if operator else None, assigned, closed)


@pytest.fixture
def put_contacts(app):
    """Store contacts of a source as rows: (created_at, operator_id, assigned_at, closed_at)."""

    def put(source, rows):
        with app.app_context():
            lead = Lead(name="Report client")
            db.session.add(lead)
            db.session.flush()
            for created, operator_id, assigned, closed in rows:
                db.session.add(Contact(
                    lead_id=lead.id, source_id=source.id, operator_id=operator_id, created_at=created,
                    assigned_at=assigned, closed_at=closed, is_active=closed is None,
                ))
            db.session.commit()
            db.session.remove()

    return put


def run_report(app, **args):
    with app.app_context():
        filters = reports.parse_filters(db.session, {k: str(v) for k, v in args.items()}, today())
        result = reports.distribution_report(db.session, filters)
        db.session.remove()
        return {r.name: r for r in result}


def queue_days(app, now: datetime, **args):
    with app.app_context():
        filters = reports.parse_filters(db.session, {k: str(v) for k, v in args.items()}, now.date())
        result = reports.queue_report(db.session, filters, now)
        db.session.remove()
        return {d.day: d for d in result}


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", html)


# --- shares and counts ----------------------------------------------------------------------


def test_counts_and_shares_for_known_data(app, client, sign_in, factory, put_contacts):
    sign_in("supervisor")
    anna, boris = factory.operator("Anna"), factory.operator("Boris")
    clara = factory.operator("Clara", is_active=False)
    site = factory.source("Site", weights={anna: 3, boris: 1, clara: 1})
    other = factory.source("Other", weights={boris: 1})
    day = today() - timedelta(days=3)
    put_contacts(site, autos(anna, day, 9, 6) + autos(boris, day, 10, 2)
                 + [queued(at(day, 11), at(day, 12), anna),  # assigned by hand an hour later
                    queued(at(day, 13)),  # still waiting
                    queued(at(day, 14), closed=at(day, 15)),  # closed while waiting
                    auto(anna, at(today() - timedelta(days=40), 9))])  # before the default period
    put_contacts(other, [auto(boris, at(day, 9))])

    site_report = run_report(app, source=site.id)["Site"]
    assert (site_report.auto_assigned, site_report.queued, site_report.total) == (8, 3, 11)
    rows = {o.name: o for o in site_report.operators}
    assert [o.name for o in site_report.operators] == ["Anna", "Boris", "Clara"]
    assert rows["Anna"].received == 6 and rows["Anna"].actual_share == pytest.approx(0.75)
    assert rows["Anna"].configured_share == pytest.approx(0.6)
    assert rows["Boris"].received == 2 and rows["Boris"].actual_share == pytest.approx(0.25)
    assert rows["Clara"].received == 0 and rows["Clara"].configured_share == pytest.approx(0.2)
    # Clara is inactive and got nothing: the test compares Anna and Boris at 3:1, exactly what they got.
    assert not rows["Clara"].eligible and rows["Clara"].expected is None
    assert site_report.test.expected == pytest.approx({anna.id: 6, boris.id: 2})
    assert site_report.test.statistic == pytest.approx(0)
    assert run_report(app)["Other"].auto_assigned == 1

    page = text_of(client.get(f"{URL}?source={site.id}").get_data(as_text=True))
    assert "11 contacts in the period: 8 assigned automatically, 3 went to the queue (27.3%)." in page
    assert "not in the test: inactive" in page
    for share in ("60%", "75%", "20%", "25%"):
        assert f">{share}<" in page
    assert 'id="source-' + str(other.id) + '"' not in page  # one source chosen
    assert "current weight table" in page and "assignment time equals its creation time" in page


def test_chart_has_a_bar_pair_per_operator_a_title_and_a_legend(client, sign_in, factory, put_contacts):
    sign_in("supervisor")
    anna, boris = factory.operator("Anna"), factory.operator("Boris")
    site = factory.source("Site", weights={anna: 1, boris: 1})
    put_contacts(site, [auto(anna, at(today(), 0, 1)), auto(boris, at(today(), 0, 2))])
    html = client.get(URL).get_data(as_text=True)
    svg = re.search(r'<svg class="chart chart-shares".*?</svg>', html, re.S).group(0)
    assert '<title id="chart-source-' in svg and "Configured and actual shares: Site" in svg
    assert svg.count('class="bar bar-configured"') == 2 and svg.count('class="bar bar-actual"') == 2
    assert "Configured share</text>" in svg and "Actual share</text>" in svg
    assert ">Anna</text>" in svg and ">Boris</text>" in svg
    assert "style=" not in html.split("<main", 1)[1]  # the CSP forbids inline styles
    assert "<style" not in html


def test_contact_assigned_by_the_webhook_counts_as_automatic(client, sign_in, factory):
    sign_in("supervisor")
    anna = factory.operator("Anna", max_load=1)
    site = factory.source("Site", weights={anna: 1})
    for phone in ("+79990000001", "+79990000002"):
        response = client.post(f"/webhooks/{site.key}", json={"phone": phone},
                               headers={"X-Webhook-Token": site.webhook_token})
        assert response.status_code == 201
    page = text_of(client.get(URL).get_data(as_text=True))
    assert "2 contacts in the period: 1 assigned automatically, 1 went to the queue (50%)." in page


# --- the flag ----------------------------------------------------------------------------


def test_flag_for_a_skewed_distribution(client, sign_in, factory, put_contacts):
    sign_in("supervisor")
    anna, boris = factory.operator("Anna"), factory.operator("Boris")
    site = factory.source("Site", weights={anna: 1, boris: 1})
    day = today() - timedelta(days=1)
    put_contacts(site, autos(anna, day, 8, 40) + autos(boris, day, 9, 10))
    page = text_of(client.get(URL).get_data(as_text=True))
    assert 'data-flag="skewed"' in page
    assert "The difference is larger than chance explains." in page
    assert (
        "χ² = 18.0 (df = 1), p = &lt; 0.0001 (a source is flagged only when p &lt; 0.01); "
        "50 contacts tested."
    ) in page
    assert "+4.24" in page and "−4.24" in page  # z of each operator (a real minus sign)
    assert page.count('class="stands-out"') == 2


def test_no_flag_for_a_fair_distribution(client, sign_in, factory, put_contacts):
    sign_in("supervisor")
    anna, boris = factory.operator("Anna"), factory.operator("Boris")
    site = factory.source("Site", weights={anna: 1, boris: 1})
    day = today() - timedelta(days=1)
    put_contacts(site, autos(anna, day, 8, 26) + autos(boris, day, 9, 24))
    page = text_of(client.get(URL).get_data(as_text=True))
    assert 'data-flag="ok"' in page and 'data-flag="skewed"' not in page
    assert "The difference is within chance." in page
    assert "p = 0.7773" in page


def test_few_contacts_are_not_flagged(client, sign_in, factory, put_contacts):
    sign_in("supervisor")
    anna, boris = factory.operator("Anna"), factory.operator("Boris")
    site = factory.source("Site", weights={anna: 1, boris: 1})
    put_contacts(site, autos(anna, today(), 0, 9))
    page = text_of(client.get(URL).get_data(as_text=True))
    assert 'data-flag="skewed"' not in page
    assert "Too few contacts for the test to say anything" in page


# --- the queue over time ------------------------------------------------------------------


def test_queue_per_day(app, factory, put_contacts):
    anna = factory.operator("Anna")
    site = factory.source("Site", weights={anna: 1})
    other = factory.source("Other")
    d0 = date(2025, 3, 9)
    d1, d2, d3 = (d0 + timedelta(days=i) for i in (1, 2, 3))
    now = at(d3, 12)
    put_contacts(site, [
        queued(at(d0, 20), at(d1, 2), anna),  # waiting when the period starts, 6 h
        queued(at(d1, 10)),  # never assigned
        queued(at(d2, 8), closed=at(d2, 9)),  # closed while waiting, 1 h
        queued(at(d2, 23), at(d3, 1), anna),  # over midnight, 2 h
        auto(anna, at(d2, 12)),  # never waited
        queued(at(d3, 11)),
        queued(at(d0, 1), at(d0, 3), anna),  # came and went before the period
    ])
    put_contacts(other, [queued(at(d1, 5))])

    days = queue_days(app, now, source=site.id, **{"from": d1, "to": d3})
    hours = 3600
    assert [(d.entered, d.left, d.waiting) for d in days.values()] == [(1, 1, 1), (2, 1, 2), (1, 1, 2)]
    assert days[d1].longest_wait == pytest.approx(14 * hours)  # the d1 10:00 contact at midnight
    assert days[d2].longest_wait == pytest.approx(38 * hours)
    assert days[d3].longest_wait == pytest.approx(50 * hours)  # until now, 12:00

    # A period that ends before today: the contact that leaves later still waits at its end.
    earlier = queue_days(app, now, source=site.id, **{"from": d1, "to": d2})
    assert [d.waiting for d in earlier.values()] == [1, 2]
    assert earlier[d2].longest_wait == pytest.approx(38 * hours)
    # Starting on d2: the contact from d1 is counted as already waiting.
    later = queue_days(app, now, source=site.id, **{"from": d2, "to": d3})
    assert [d.waiting for d in later.values()] == [2, 2]
    # Every source: the other source's contact (d1 05:00, never assigned) waits too.
    every = queue_days(app, now, **{"from": d1, "to": d3})
    assert [d.waiting for d in every.values()] == [2, 3, 3]
    assert every[d3].longest_wait == pytest.approx(55 * hours)


def test_queue_table_and_chart_on_the_page(client, sign_in, factory, put_contacts):
    sign_in("supervisor")
    site = factory.source("Site")
    yesterday = today() - timedelta(days=1)
    put_contacts(site, [queued(at(yesterday, 10)), queued(at(yesterday, 11))])
    html = client.get(URL).get_data(as_text=True)
    svg = re.search(r'<svg class="chart chart-queue".*?</svg>', html, re.S).group(0)
    assert svg.count('class="bar bar-waiting"') == 2  # yesterday and today
    assert '<polyline class="wait-line"' in svg and "Queue per day" in svg
    # Newest first; the 28 quiet days of the 30 are left out and counted.
    rows = re.findall(r"<tr><td class=\"nowrap\">.*?</tr>", text_of(html))
    assert len(rows) == 2
    assert "28 days with an empty queue and no traffic are left out of the table." in text_of(html)
    # Yesterday: 2 came, none left, 2 waiting at midnight, the older for 14 hours.
    assert re.findall(r'<td class="num[^"]*">([^<]*)</td>', rows[1]) == ["2", "0", "2", "14 hours"]


# --- access and filters -----------------------------------------------------------------------


def test_operators_may_not_see_the_report(client, sign_in):
    sign_in("operator")
    assert client.get(URL).status_code == 403


def test_anonymous_visitors_go_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_nav_link_for_supervisors_only(client, sign_in):
    sign_in("supervisor")
    assert f'href="{URL}"' in client.get("/").get_data(as_text=True)


def test_nav_link_hidden_from_operators(client, sign_in):
    sign_in("operator")
    assert f'href="{URL}"' not in client.get("/").get_data(as_text=True)


def test_period_filter(client, app, sign_in, factory, put_contacts):
    sign_in("supervisor")
    anna = factory.operator("Anna")
    site = factory.source("Site", weights={anna: 1})
    put_contacts(site, [auto(anna, at(today() - timedelta(days=days), 9)) for days in (10, 2)])
    start = (today() - timedelta(days=3)).isoformat()
    assert run_report(app, **{"from": start})["Site"].auto_assigned == 1
    assert run_report(app)["Site"].auto_assigned == 2
    page = text_of(client.get(f"{URL}?from={start}&to={today().isoformat()}").get_data(as_text=True))
    assert "1 contact in the period:" in page
    assert f'value="{start}"' in page
    assert "(4 days, UTC)" in page


def test_defaults_and_future_end(app):
    with app.app_context():
        filters = reports.parse_filters(db.session, {}, date(2025, 5, 31))
        assert filters == reports.ReportFilters(None, reports.Period(date(2025, 5, 2), date(2025, 5, 31)))
        # An end after today is cut to today.
        cut = reports.parse_filters(db.session, {"from": "2025-05-01", "to": "2025-07-01"}, date(2025, 5, 31))
        assert cut.period == reports.Period(date(2025, 5, 1), date(2025, 5, 31))
        leap_year = {"from": "2023-06-01", "to": "2024-05-31"}
        longest = reports.parse_filters(db.session, leap_year, date(2024, 6, 1))
        assert longest.period.days == reports.MAX_DAYS == 366
        db.session.remove()


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=yesterday", "from", "Use a date such as 2025-01-31."),
        ("to=2025-13-01", "to", "Use a date such as 2025-01-31."),
        ("from=20250101", "from", "Use a date such as 2025-01-31."),
        ("from=0001-01-01", "from", "Use a date such as 2025-01-31."),
        ("from=2025-03-10&to=2025-03-01", "from", "The start of the period is after its end."),
        ("from=2023-01-01&to=2025-01-01", "from", "The period is longer than 366 days."),
        ("from=2999-01-01&to=2999-02-01", "from", "The period starts in the future."),
        ("source=abc", "source", "Choose a source from the list."),
        ("source=99999999999", "source", "Choose a source from the list."),
        ("source=999999", "source", "There is no source 999999."),
        ("source=-1", "source", "Choose a source from the list."),
    ],
)
def test_bad_filters_give_a_clear_error(client, sign_in, query, field, message):
    sign_in("supervisor")
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-help" class="field-error">{message}</small>' in page
    assert "Some filters are not valid" in page


def test_parse_filters_names_every_bad_field(app):
    with app.app_context():
        with pytest.raises(ValidationError) as caught:
            reports.parse_filters(db.session, {"source": "x", "from": "x", "to": "y"}, today())
        assert set(caught.value.fields) == {"source", "from", "to"}
        db.session.remove()
