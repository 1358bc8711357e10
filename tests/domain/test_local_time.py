"""Local time: zone names, a zone's days as UTC bounds, the spans of one offset, labels: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm_web.domain.errors import ValidationError
from crm_web.domain.local_time import (
    DEFAULT_TIMEZONE,
    day_start,
    days_bounds,
    is_zone_name,
    local_today,
    offset_spans,
    offset_text,
    parse_zone,
    today_starts_at,
    zone_label,
)

MOSCOW = ZoneInfo("Europe/Moscow")
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_default_zone_is_moscow():
    assert DEFAULT_TIMEZONE == "Europe/Moscow" and is_zone_name(DEFAULT_TIMEZONE)


@pytest.mark.parametrize("name", ["Europe/Moscow", "Asia/Vladivostok", "America/New_York", "UTC"])
def test_iana_names_are_zones(name):
    assert parse_zone(name) == ZoneInfo(name)


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "europe/moscow ", "../etc/passwd", "+03:00", None, 3])
def test_anything_else_is_refused(name):
    assert not is_zone_name(name)
    with pytest.raises(ValidationError) as caught:
        parse_zone(name)
    assert set(caught.value.fields) == {"timezone"}


def test_half_past_midnight_in_moscow_is_today_there_and_yesterday_in_utc():
    contact = utc(2026, 12, 4, 21, 30)  # 00:30 on 5 December in Moscow
    now = utc(2026, 12, 5, 9, 0)
    assert local_today(MOSCOW, contact) == date(2026, 12, 5)
    assert today_starts_at(MOSCOW, now) == utc(2026, 12, 4, 21, 0) <= contact
    assert today_starts_at(UTC, now) == utc(2026, 12, 5) > contact
    assert today_starts_at(NEW_YORK, now) == utc(2026, 12, 5, 5, 0) > contact


def test_a_day_runs_from_local_midnight_to_local_midnight():
    day = date(2026, 12, 5)
    assert days_bounds(day, day, MOSCOW) == (utc(2026, 12, 4, 21), utc(2026, 12, 5, 21))
    assert days_bounds(day, day, VLADIVOSTOK) == (utc(2026, 12, 4, 14), utc(2026, 12, 5, 14))
    # A period of several days ends at the local midnight after its last day.
    start, end = days_bounds(date(2026, 12, 1), date(2026, 12, 4), MOSCOW)
    assert (start, end) == (utc(2026, 11, 30, 21), utc(2026, 12, 4, 21))
    assert end - start == timedelta(days=4)


def test_days_with_a_clock_change_are_23_and_25_hours_long():
    spring = days_bounds(date(2026, 3, 8), date(2026, 3, 8), NEW_YORK)
    autumn = days_bounds(date(2026, 11, 1), date(2026, 11, 1), NEW_YORK)
    assert spring == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert autumn == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)


def test_a_midnight_skipped_by_the_clock_starts_the_day_at_the_first_moment_after_it():
    # Santiago moved its clocks from 00:00 to 01:00 on 7 September 2025: the day began at 04:00 UTC.
    assert day_start(date(2025, 9, 7), ZoneInfo("America/Santiago")) == utc(2025, 9, 7, 4)


def test_spans_of_one_offset_follow_the_clock_changes():
    spans = offset_spans(NEW_YORK, utc(2026, 1, 1), utc(2027, 1, 1))
    assert [(s.starts_at, s.offset) for s in spans] == [
        (utc(2026, 1, 1), -5 * 3600),
        (utc(2026, 3, 8, 7), -4 * 3600),  # 02:00 EST becomes 03:00 EDT
        (utc(2026, 11, 1, 6), -5 * 3600),  # 02:00 EDT becomes 01:00 EST
    ]
    assert [(s.starts_at, s.offset) for s in offset_spans(MOSCOW, utc(2026, 1, 1), utc(2027, 1, 1))] == [
        (utc(2026, 1, 1), 3 * 3600)
    ]
    # Moscow's years on UTC+4.
    moved = offset_spans(MOSCOW, utc(2011, 1, 1), utc(2015, 1, 1))
    assert [(s.starts_at, s.offset) for s in moved] == [
        (utc(2011, 1, 1), 3 * 3600), (utc(2011, 3, 26, 23), 4 * 3600), (utc(2014, 10, 25, 22), 3 * 3600)
    ]


def test_offsets_as_iso_8601():
    assert [offset_text(s) for s in (10800, 36000, 0, -14400, 19800, -12600)] == [
        "+03:00", "+10:00", "+00:00", "-04:00", "+05:30", "-03:30"
    ]


def test_labels_name_the_offset_or_for_a_zone_with_clock_changes_the_zone():
    now = utc(2026, 12, 5, 10)
    assert zone_label(MOSCOW, now) == "UTC+3"
    assert zone_label(VLADIVOSTOK, now) == "UTC+10"
    assert zone_label(ZoneInfo("Asia/Kolkata"), now) == "UTC+5:30"
    assert zone_label(UTC, now) == zone_label(ZoneInfo("UTC"), now) == "UTC"
    assert zone_label(NEW_YORK, now) == "America/New_York"
