"""Local time: IANA zones, a zone's calendar days as UTC bounds, and the spans of one UTC offset.

Times are stored in UTC. A day of the viewer's zone runs from its local
midnight to the next, which this module turns into UTC bounds, so that
queries compare the stored column with them (and keep using its index).
Where the database itself must place a stored time on the local clock (a
report's days, a CSV cell), it is given the zone as `offset_spans`: the
moments the zone's UTC offset changes, each span one offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, available_timezones

from .errors import ValidationError
from .messages import N_

DEFAULT_TIMEZONE = "Europe/Moscow"


@cache
def zone_names() -> frozenset[str]:
    """Every IANA zone name this machine knows (read once: it lists the zone files)."""
    return frozenset(available_timezones())


def is_zone_name(name: object) -> bool:
    return isinstance(name, str) and name in zone_names()


def parse_zone(name: object, field: str = "timezone") -> ZoneInfo:
    """The IANA zone called `name` ("Europe/Moscow"); ValidationError for anything else."""
    if not is_zone_name(name):
        raise ValidationError.single(field, N_("Choose a time zone from the list."))
    return ZoneInfo(name)


def local_today(zone: tzinfo, now: datetime) -> date:
    return now.astimezone(zone).date()


def day_start(day: date, zone: tzinfo) -> datetime:
    """The UTC moment the zone's `day` begins (its local midnight)."""
    # A midnight skipped by a clock change (fold 0) resolves to the first moment after it.
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def days_bounds(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The UTC bounds [start, end) of the zone's days `first` to `last`, both included."""
    return day_start(first, zone), day_start(last + timedelta(days=1), zone)


def today_starts_at(zone: tzinfo, now: datetime) -> datetime:
    return day_start(local_today(zone, now), zone)


@dataclass(frozen=True)
class Span:
    """From `starts_at` (UTC) until the next span, the zone's clock is `offset` seconds ahead of UTC."""

    starts_at: datetime
    offset: int


def offset_spans(zone: tzinfo, start: datetime, end: datetime) -> tuple[Span, ...]:
    """The spans of one UTC offset covering [start, end), in time order; the first starts at `start`.

    The offset is read every 24 hours from `start` and a change is narrowed down to
    the second between two readings (a zone that changes twice within one day
    and back is read as not changing).
    """
    return _spans(zone, int(start.timestamp()), int(end.timestamp()))


def _offset_at(zone: tzinfo, moment: int) -> int:
    return int(datetime.fromtimestamp(moment, zone).utcoffset().total_seconds())


@lru_cache(maxsize=256)  # a few periods and one CSV range per zone at a time
def _spans(zone: tzinfo, start: int, end: int) -> tuple[Span, ...]:
    spans = [Span(datetime.fromtimestamp(start, UTC), _offset_at(zone, start))]
    step = 86_400
    moment = start
    while moment < end:
        later = min(moment + step, end)
        if _offset_at(zone, later) != spans[-1].offset:
            low, high = moment, later  # the change lies in (low, high]
            while high - low > 1:
                middle = (low + high) // 2
                if _offset_at(zone, middle) == spans[-1].offset:
                    low = middle
                else:
                    high = middle
            spans.append(Span(datetime.fromtimestamp(high, UTC), _offset_at(zone, high)))
        moment = later
    return tuple(spans)


def offset_text(seconds: int) -> str:
    """An ISO 8601 offset: 10800 → "+03:00", -16200 → "-04:30" (seconds dropped)."""
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def zone_label(zone: tzinfo, now: datetime) -> str:
    """How a page names the zone its times are in: "UTC+3" for a zone without clock changes,
    else the zone's name ("America/New_York"), since one offset would misread half the year."""
    year = now.year
    winter = _offset_at(zone, int(datetime(year, 1, 1, tzinfo=UTC).timestamp()))
    summer = _offset_at(zone, int(datetime(year, 7, 1, tzinfo=UTC).timestamp()))
    if winter != summer:
        return str(getattr(zone, "key", zone))
    if not winter:
        return "UTC"
    sign = "-" if winter < 0 else "+"
    hours, minutes = divmod(abs(winter) // 60, 60)
    return f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
