"""Days of the viewer's zone in the services: "today", the audit trail's day filters, the reports' periods.

A contact at 00:30 in Moscow is 21:30 UTC the day before: it belongs to
Moscow's day and to the previous UTC day. Stored as rows, on both engines.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from crm_web.models import AuditEvent, Contact, Lead
from crm_web.services import reports
from crm_web.services.audit_queries import AuditFilters, list_events
from crm_web.services.reports import Period, ReportFilters
from crm_web.services.stats import overview_counts
from crm_web.services.team_report import team_report

MOSCOW = ZoneInfo("Europe/Moscow")
NEW_YORK = ZoneInfo("America/New_York")
HALF_PAST_MIDNIGHT_IN_MOSCOW = datetime(2026, 12, 4, 21, 30, tzinfo=UTC)
DEC_4, DEC_5 = date(2026, 12, 4), date(2026, 12, 5)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def source(factory):
    return factory.source("Site")


@pytest.fixture
def put(session, source):
    """Store contacts of `source` created (and, with an operator, assigned) at the given moments."""

    def store(*moments: datetime, operator=None) -> None:
        lead = Lead(name="Night client")
        session.add(lead)
        session.flush()
        session.add_all(
            Contact(lead_id=lead.id, source_id=source.id, created_at=moment, is_active=True,
                    operator_id=operator.id if operator else None, assigned_at=moment if operator else None)
            for moment in moments
        )
        session.commit()

    return store


def test_new_today_counts_the_viewers_day(session, put):
    put(HALF_PAST_MIDNIGHT_IN_MOSCOW)
    morning = utc(2026, 12, 5, 9)
    assert overview_counts(session, MOSCOW, now=morning).today == 1
    assert overview_counts(session, UTC, now=morning).today == 0
    assert overview_counts(session, NEW_YORK, now=morning).today == 0  # 16:30 on the 4th there
    assert overview_counts(session, ZoneInfo("Asia/Vladivostok"), now=morning).today == 1  # 07:30 on the 5th


def test_the_audit_trails_days_are_the_viewers(session):
    session.add_all([
        AuditEvent(created_at=HALF_PAST_MIDNIGHT_IN_MOSCOW, actor_label="system", action="contact.created",
                   subject_type="contact", subject_id=1),
        AuditEvent(created_at=utc(2026, 12, 5, 20, 59, 59), actor_label="system", action="contact.closed",
                   subject_type="contact", subject_id=1),
        AuditEvent(created_at=utc(2026, 12, 5, 21), actor_label="system", action="contact.assigned",
                   subject_type="contact", subject_id=1),  # 00:00 on 6 December in Moscow
    ])
    session.commit()

    def actions(first: date, last: date, zone) -> list[str]:
        page = list_events(session, AuditFilters(date_from=first, date_to=last, zone=zone), 50)
        return sorted(e.action for e in page.events)

    assert actions(DEC_5, DEC_5, MOSCOW) == ["contact.closed", "contact.created"]
    assert actions(DEC_4, DEC_4, MOSCOW) == []
    assert actions(DEC_4, DEC_4, UTC) == ["contact.created"]
    assert actions(DEC_5, DEC_5, UTC) == ["contact.assigned", "contact.closed"]


def received(session, period: Period) -> int:
    return sum(r.total for r in reports.utm_report(session, ReportFilters(None, period)))


def test_a_reports_period_is_days_of_its_zone(session, put):
    put(HALF_PAST_MIDNIGHT_IN_MOSCOW)
    assert received(session, Period(DEC_5, DEC_5, MOSCOW)) == 1
    assert received(session, Period(DEC_4, DEC_4, MOSCOW)) == 0
    assert received(session, Period(DEC_4, DEC_4, UTC)) == 1


def test_a_period_ends_at_the_local_midnight_after_its_last_day(session, put):
    put(utc(2026, 12, 4, 20, 59, 59), utc(2026, 12, 4, 21, 0, 0))  # 23:59:59 on the 4th, then midnight
    assert received(session, Period(date(2026, 12, 1), DEC_4, MOSCOW)) == 1
    assert received(session, Period(DEC_5, DEC_5, MOSCOW)) == 1


def test_the_queue_report_puts_each_contact_on_its_local_day(session, put):
    put(HALF_PAST_MIDNIGHT_IN_MOSCOW)
    filters = ReportFilters(None, Period(DEC_4, DEC_5, MOSCOW))
    days = {d.day: d for d in reports.queue_report(session, filters, utc(2026, 12, 6))}
    assert (days[DEC_4].entered, days[DEC_5].entered) == (0, 1)
    assert (days[DEC_4].waiting, days[DEC_5].waiting) == (0, 1)
    # The longest wait at the end of Moscow's 5 December (21:00 UTC): 23 h 30 min.
    assert days[DEC_5].longest_wait == pytest.approx(23.5 * 3600)


def test_the_queue_report_follows_a_clock_change_within_its_period(session, put):
    put(
        utc(2026, 11, 1, 4, 30),  # 00:30 EDT on 1 November
        utc(2026, 11, 2, 4, 30),  # 23:30 EST on 1 November: after the change, still that day
        utc(2026, 11, 2, 5, 30),  # 00:30 EST on 2 November
    )
    filters = ReportFilters(None, Period(date(2026, 10, 31), date(2026, 11, 2), NEW_YORK))
    days = {d.day: d.entered for d in reports.queue_report(session, filters, utc(2026, 11, 3, 12))}
    assert days == {date(2026, 10, 31): 0, date(2026, 11, 1): 2, date(2026, 11, 2): 1}


def test_the_team_reports_period_is_days_of_its_zone(session, put, factory):
    anna = factory.operator("Anna")
    put(HALF_PAST_MIDNIGHT_IN_MOSCOW, operator=anna)

    def anna_received(period: Period) -> int:
        return {row.name: row for row in team_report(session, period).operators}["Anna"].figures.received

    assert anna_received(Period(DEC_5, DEC_5, MOSCOW)) == 1
    assert anna_received(Period(DEC_4, DEC_4, MOSCOW)) == 0
    assert anna_received(Period(DEC_4, DEC_4, UTC)) == 1
