"""/reports/distribution#utm: the period's contacts by source and UTM source (contract §2a)."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from crm_web.core.extensions import db
from crm_web.models import Contact, Lead
from crm_web.services import reports

URL = "/reports/distribution"


def today() -> date:
    return datetime.now(UTC).date()


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.fixture
def put(app):
    """Store contacts of a source created at `when` with this utm_source (None: none)."""

    def contacts(source, utm_source: str | None, count: int = 1, when: datetime | None = None):
        with app.app_context():
            lead = Lead(name="UTM client")
            db.session.add(lead)
            db.session.flush()
            for _ in range(count):
                db.session.add(Contact(
                    lead_id=lead.id, source_id=source.id, created_at=when or at(today() - timedelta(days=1)),
                    utm={"utm_source": utm_source} if utm_source else None, utm_source=utm_source,
                ))
            db.session.commit()
            db.session.remove()

    return contacts


def utm_report(app, **args):
    with app.app_context():
        filters = reports.parse_filters(db.session, {k: str(v) for k, v in args.items()}, today())
        result = reports.utm_report(db.session, filters)
        db.session.remove()
        return {s.name: s for s in result}


def table(report) -> list[tuple]:
    return [(row.utm_source, row.contacts) for row in report.rows]


def test_contacts_of_the_period_by_source_and_utm_source(app, factory, put):
    alpha, beta = factory.source("Alpha"), factory.source("Beta")
    factory.source("Empty")
    put(alpha, "google", 3)
    put(alpha, "yandex", 1)
    put(alpha, None, 2)
    put(beta, "google", 1)
    put(alpha, "google", 5, when=at(today() - timedelta(days=40)))  # before the default 30 days
    result = utm_report(app)
    assert list(result) == ["Alpha", "Beta"]  # a source without contacts in the period is left out
    assert table(result["Alpha"]) == [("google", 3), (None, 2), ("yandex", 1)]
    assert (result["Alpha"].total, result["Alpha"].kinds, result["Alpha"].rest) == (6, 3, 0)
    assert table(result["Beta"]) == [("google", 1)]
    # The longer period counts the older contacts too; one source only with `source`.
    longer = utm_report(app, **{"from": (today() - timedelta(days=60)).isoformat()})
    assert table(longer["Alpha"]) == [("google", 8), (None, 2), ("yandex", 1)]
    assert list(utm_report(app, source=beta.id)) == ["Beta"]


def test_beyond_twenty_values_a_source_sums_the_rest(app, factory, put):
    source = factory.source("Spammy")
    put(source, "top", 5)
    for i in range(24):
        put(source, f"value-{i:02d}", 1)
    report = utm_report(app)["Spammy"]
    assert len(report.rows) == reports.UTM_ROWS_PER_SOURCE
    assert report.rows[0] == reports.UtmCount("top", 5)
    assert [row.utm_source for row in report.rows[1:]] == [f"value-{i:02d}" for i in range(19)]
    assert (report.total, report.kinds, report.rest, report.rest_kinds) == (29, 25, 5, 5)


def test_the_page_shows_the_numbers_and_links_to_the_contacts(client, sign_in, factory, put):
    alpha = factory.source("Alpha")
    put(alpha, "google", 3)
    put(alpha, None, 1)
    put(alpha, "<b>bold</b>", 1)
    sign_in()
    html = client.get(URL).get_data(as_text=True)
    section = html[html.index('id="utm"'):]
    assert "Contacts by source and UTM source" in section
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S)
    cells = [re.sub(r"<[^>]+>|\s+", " ", html_lib.unescape(row)).split() for row in rows]
    assert ["Alpha", "5"] in cells
    assert ["google", "3", "60%"] in cells
    assert ["no", "UTM", "source", "1", "20%"] in cells
    assert f'href="/contacts?source_id={alpha.id}&amp;utm_source=google"' in section
    assert "<b>bold</b>" not in section and "&lt;b&gt;bold&lt;/b&gt;" in section
    assert 'href="#utm"' in html


def test_the_report_costs_the_same_number_of_queries_for_a_week_and_a_year(
    client, sign_in, factory, put, count_queries
):
    anna = factory.operator("Anna")
    sources = [factory.source(f"Source {i}", weights={anna: 1}) for i in range(3)]
    for day in range(0, 366, 5):
        for n, source in enumerate(sources):
            put(source, f"utm-{(day + n) % 7}", 1, when=at(today() - timedelta(days=day)))
    sign_in()

    def queries(days: int) -> int:
        start = (today() - timedelta(days=days - 1)).isoformat()
        count, response = count_queries(lambda: client.get(f"{URL}?from={start}&to={today().isoformat()}"))
        assert response.status_code == 200
        assert 'id="utm"' in response.get_data(as_text=True)
        return count

    week, year = queries(7), queries(366)
    assert week == year
