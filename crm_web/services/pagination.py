"""Page/per_page slicing of a query, with the total count, fast at any size.

Two things get slow on big tables, and each has a cheaper way:

* The total. COUNT(*) over a million rows takes tens of milliseconds
  (docs/performance.md). A total is therefore exact up
  to COUNT_CAP items (counting stops at COUNT_CAP + 1 rows) and above that
  an estimate: the share of matching rows in a sample of SAMPLE_SIZE ids
  (SAMPLE_SLICES runs spread over the whole id span), times the span,
  rounded to three significant digits (so that it reads as an estimate).
  Lists whose model has no id sequence are counted exactly (small tables).
* Deep pages. OFFSET walks every row before the page. `after` (an id from
  the previous page) makes a keyset page instead: an index range scan, as
  fast on page 20,000 as on page 1. `page` still works, as an offset after
  the cursor.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, union_all
from sqlalchemy.orm import Session

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
COUNT_CAP = 2_000
SAMPLE_SIZE = 2_000
SAMPLE_SLICES = 8
ESTIMATE_TTL = 10.0


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int
    total_is_estimate: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def paginate(
    session: Session,
    query: Select,
    page: int,
    per_page: int,
    *,
    id_column=None,
    keyset: ColumnElement[bool] | None = None,
    estimate_key: Hashable | None = None,
    few_order=None,
) -> Page:
    """`query` must be ordered. `id_column`: the model's id, for the estimate
    of large totals; `keyset`: the condition of an `after` cursor (it narrows
    the items, not the total); `estimate_key`: names the list (table and
    filters) so that its estimated total can be reused for a few seconds;
    `few_order`: the same order written so that no index gives it, used when
    the total is exact (at most COUNT_CAP rows: services/search.py)."""
    total, estimated = count_total(session, query, id_column, estimate_key)
    if few_order is not None and not estimated:
        query = query.order_by(None).order_by(*few_order)
    if keyset is not None:
        query = query.where(keyset)
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)).unique())
    return Page(items, page, per_page, total, estimated)


def count_total(
    session: Session, query: Select, id_column=None, estimate_key: Hashable | None = None
) -> tuple[int, bool]:
    """(total, is_estimate) of the query's rows; see the module's docstring.

    An estimated total (a list longer than COUNT_CAP) is kept per process for
    ESTIMATE_TTL seconds under `estimate_key`: paging through a long list
    then costs no counting at all. Exact totals are never reused.
    """
    base = query.order_by(None)
    if id_column is None:
        return session.scalar(select(func.count()).select_from(base.subquery())) or 0, False
    now = time.monotonic()
    if estimate_key is not None:
        estimate_key = (id(session.get_bind()), estimate_key)  # one cache per database
        cached = _estimates.get(estimate_key)
        if cached is not None and cached[0] > now:
            return cached[1], True
    total, estimated = _count_or_estimate(session, base, id_column)
    if estimated and estimate_key is not None:
        if len(_estimates) >= 1024:
            _estimates.clear()
        _estimates[estimate_key] = (now + ESTIMATE_TTL, total)
    return total, estimated


_estimates: dict[Hashable, tuple[float, int]] = {}


def _count_or_estimate(session: Session, base: Select, id_column) -> tuple[int, bool]:
    ids = base.with_only_columns(id_column, maintain_column_froms=True)
    capped = session.scalar(select(func.count()).select_from(ids.limit(COUNT_CAP + 1).subquery())) or 0
    if capped <= COUNT_CAP:
        return capped, False
    # Two scalar subqueries: each MIN/MAX alone is one index probe (SQLite
    # optimises only a lone MIN or MAX).
    low, high = session.execute(
        select(select(func.min(id_column)).scalar_subquery(), select(func.max(id_column)).scalar_subquery())
    ).one()
    # A stratified sample: SAMPLE_SLICES runs of ids spread evenly over the
    # whole span (not only the newest rows, which differ: they are the open
    # ones), counted in one statement of primary-key ranges.
    span = high - low + 1
    step = span / SAMPLE_SLICES
    slices = [int(low + step * i) for i in range(SAMPLE_SLICES)]
    size = max(1, min(SAMPLE_SIZE // SAMPLE_SLICES, int(step)))
    # One small primary-key range scan per slice, summed (an OR of ranges
    # would let SQLite fall back to scanning the whole table).
    counts = union_all(
        *(
            select(func.count().label("n")).select_from(
                ids.where(id_column.between(start, start + size - 1)).subquery()
            )
            for start in slices
        )
    ).subquery()
    in_sample = session.scalar(select(func.sum(counts.c.n))) or 0
    estimate = _three_digits(in_sample * span / (size * SAMPLE_SLICES))
    return max(COUNT_CAP + 1, estimate), True


def _three_digits(value: float) -> int:
    whole = int(round(value))
    digits = len(str(abs(whole)))
    if digits <= 3:
        return whole
    return int(round(whole, 3 - digits))
