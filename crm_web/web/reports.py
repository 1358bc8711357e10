"""/reports/distribution: the fairness report (configured against actual shares), the queue over time,
and the period's contacts by source and UTM source (one filter form and period for all three)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import render_template, request
from flask_babel import format_date, format_decimal, format_percent, format_timedelta
from flask_babel import gettext as _

from ..core.extensions import db
from ..domain import fairness
from ..domain.errors import ValidationError
from ..services import reports as service
from ..services.sources import all_sources
from . import bp
from .access import supervisor_required
from .charts import QueuePoint, ShareGroup, queue_chart, share_chart
from .i18n import translate


@bp.get("/reports/distribution")
@supervisor_required
def distribution_report():
    now = datetime.now(UTC)
    sources = all_sources(db.session)
    try:
        filters = service.parse_filters(db.session, request.args, now.date())
    except ValidationError as exc:
        errors = {name: [translate(m) for m in messages] for name, messages in exc.fields.items()}
        return render_template(
            "reports/distribution.html", sources=sources, args=request.args, errors=errors,
            filters=None, max_days=service.MAX_DAYS,
        ), 422
    reports = service.distribution_report(db.session, filters)
    queue = service.queue_report(db.session, filters, now)
    utm = service.utm_report(db.session, filters)
    return render_template(
        "reports/distribution.html",
        sources=sources,
        args={"source": filters.source_id or "", "from": filters.period.start.isoformat(),
              "to": filters.period.end.isoformat()},
        errors={},
        filters=filters,
        reports=reports,
        charts={r.source_id: _share_chart(r) for r in reports if r.operators},
        queue=queue,
        utm=utm,
        utm_rows_per_source=service.UTM_ROWS_PER_SOURCE,
        queue_chart_data=_queue_chart(queue),
        wait=_wait,
        day=lambda value: format_date(value, "medium"),
        pvalue=_pvalue,
        chart_desc=_chart_desc,
        percent=_percent,
        alpha=format_decimal(fairness.ALPHA),
        num=format_decimal,
        z_critical=format_decimal(fairness.Z_CRITICAL, "0.00"),
        min_expected=fairness.MIN_EXPECTED,
        max_days=service.MAX_DAYS,
    )


def _percent(value: float) -> str:
    return format_percent(value, "#,##0.#%")


def _pvalue(p: float) -> str:
    return "< 0.0001" if p < 0.0001 else format_decimal(p, "0.####")


def _wait(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return format_timedelta(timedelta(seconds=seconds), threshold=1.1)


def _chart_desc(report: service.SourceReport) -> str:
    return "; ".join(
        _("%(name)s: configured %(configured)s, actual %(actual)s", name=row.name,
          configured=_percent(row.configured_share), actual=_percent(row.actual_share))
        for row in report.operators
    )


def _share_chart(report: service.SourceReport):
    groups = [
        ShareGroup(
            name=row.name,
            configured=row.configured_share,
            actual=row.actual_share,
            configured_title=_("%(name)s: configured share %(share)s", name=row.name,
                               share=_percent(row.configured_share)),
            actual_title=_("%(name)s: %(count)s of %(total)s automatically assigned (%(share)s)",
                           name=row.name, count=row.received, total=report.auto_assigned,
                           share=_percent(row.actual_share)),
        )
        for row in report.operators
    ]
    return share_chart(groups, _percent)


def _queue_chart(days: list[service.QueueDay]):
    longest = max([d.longest_wait for d in days if d.longest_wait is not None] + [0.0])
    if longest < 2 * 3600:
        unit = (60.0, lambda v: _("%(num)s min", num=format_decimal(v)))
    elif longest < 3 * 86400:
        unit = (3600.0, lambda v: _("%(num)s h", num=format_decimal(v)))
    else:
        unit = (86400.0, lambda v: _("%(num)s d", num=format_decimal(v)))
    points = [QueuePoint(format_date(d.day, "d MMM"), d.waiting, d.longest_wait) for d in days]
    return queue_chart(
        points,
        unit,
        lambda p: _("%(day)s: %(num)s waiting at the end of the day", day=p.label, num=p.waiting),
        lambda p: _("%(day)s: longest wait %(wait)s", day=p.label, wait=_wait(p.longest_wait)),
    )
