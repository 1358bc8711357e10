"""Stored UTC times on a zone's clock, in SQL: the local day (to group by) and ISO 8601 text (for CSV).

SQLite knows no zones, so the zone reaches the database as its spans of one
UTC offset (domain/local_time.py): a CASE picks each row's span, newest first
since most rows are recent, and shifts the stored time by that offset. The
same SQL on PostgreSQL, so both databases agree with Python's zone data.
Filters never need this: they compare the stored column with UTC bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

from sqlalchemy import Date, case, cast, func, literal_column

from ..domain.local_time import Span, offset_spans, offset_text

# CSV cells may hold any stored time: the spans cover these years (earlier rows take 2000's offset).
FIRST_YEAR = 2000


def local_date(dialect: str, column, spans: tuple[Span, ...]):
    """The date of `column` on the zone's clock."""
    if dialect == "postgresql":
        return _by_span(column, spans, lambda off: cast(_pg_shifted(column, off), Date))
    return _by_span(column, spans, lambda off: func.date(column, f"{off:+d} seconds"))


def local_iso(dialect: str, column, spans: tuple[Span, ...]):
    """`column` as ISO 8601 text with the zone's offset: "2026-12-05T03:16:00+03:00" (NULL stays NULL)."""
    if dialect == "postgresql":
        # The offset is quoted text within to_char's pattern.
        return _by_span(column, spans, lambda off: func.to_char(
            _pg_shifted(column, off), f'YYYY-MM-DD"T"HH24:MI:SS"{offset_text(off)}"'
        ))
    return _by_span(column, spans, lambda off: func.strftime(
        f"%Y-%m-%dT%H:%M:%S{offset_text(off)}", column, f"{off:+d} seconds"
    ))


def csv_spans(zone: tzinfo, now: datetime) -> tuple[Span, ...]:
    """The zone's spans from FIRST_YEAR to the end of next year (fixed per year, so computed once a year)."""
    first, after = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC), datetime(now.year + 2, 1, 1, tzinfo=UTC)
    return offset_spans(zone, first, after)


def _pg_shifted(column, offset: int):
    # timezone('UTC', timestamptz) is the UTC wall clock; the offset an integer of ours, not input.
    return func.timezone(literal_column("'UTC'"), column) + literal_column(f"interval '{offset} seconds'")


def _by_span(column, spans: tuple[Span, ...], shifted: Callable[[int], object]):
    if len(spans) == 1:
        return shifted(spans[0].offset)
    newest_first = [(column >= span.starts_at, shifted(span.offset)) for span in reversed(spans[1:])]
    return case(*newest_first, else_=shifted(spans[0].offset))
