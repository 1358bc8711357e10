"""/reports/distribution: the fairness report (configured against actual shares), the queue over time,
and the period's contacts by source and UTM source (one filter form and period for all three);
/reports/team: how the team is doing (per operator: received, how fast opened and closed, outcomes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import render_template, request
from flask_babel import format_date, format_decimal, format_timedelta, ngettext
from flask_babel import gettext as _

from ..core.extensions import db
from ..domain import fairness
from ..domain.errors import ValidationError
from ..domain.local_time import local_today
from ..domain.outcomes import OUTCOMES
from ..services import reports as service
from ..services import team_report as team_service
from ..services.sources import all_sources
from . import bp
from .access import supervisor_required
from .charts import (
    QueuePoint,
    ShareGroup,
    ShareSegment,
    SpreadRow,
    StackRow,
    queue_chart,
    share_chart,
    spread_chart,
    stack_chart,
)
from .forms import OUTCOME_LABELS
from .i18n import translate
from .local_time import viewer_zone
from .numbers import percent_text


@bp.get("/reports/distribution")
@supervisor_required
def distribution_report():
    now, zone = datetime.now(UTC), viewer_zone()
    sources = all_sources(db.session)
    try:
        filters = service.parse_filters(db.session, request.args, local_today(zone, now), zone)
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
    return percent_text(value, zeros=False)


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
            actual_title=ngettext("%(name)s: %(count)s of %(num)d automatically assigned (%(share)s)",
                                  "%(name)s: %(count)s of %(num)d automatically assigned (%(share)s)",
                                  report.auto_assigned, name=row.name, count=row.received,
                                  share=_percent(row.actual_share)),
        )
        for row in report.operators
    ]
    return share_chart(groups, _percent)


def _time_unit(longest: float):
    """An axis unit for durations up to `longest` seconds: (seconds per unit, label of a number of them)."""
    if longest < 2 * 3600:
        return (60.0, lambda v: _("%(num)s min", num=format_decimal(v)))
    if longest < 3 * 86400:
        return (3600.0, lambda v: _("%(num)s h", num=format_decimal(v)))
    return (86400.0, lambda v: _("%(num)s d", num=format_decimal(v)))


def _queue_chart(days: list[service.QueueDay]):
    longest = max([d.longest_wait for d in days if d.longest_wait is not None] + [0.0])
    points = [QueuePoint(format_date(d.day, "d MMM"), d.waiting, d.longest_wait) for d in days]
    return queue_chart(
        points,
        _time_unit(longest),
        lambda p: _("%(day)s: %(num)s waiting at the end of the day", day=p.label, num=p.waiting),
        lambda p: _("%(day)s: longest wait %(wait)s", day=p.label, wait=_wait(p.longest_wait)),
    )


# --- how the team is doing -----------------------------------------------------------------

# Chart classes per outcome; their colours are in templates/reports/_charts.html (`fills`).
OUTCOME_CSS = {outcome: f"bar-outcome-{outcome}" for outcome in OUTCOMES}


@bp.get("/reports/team")
@supervisor_required
def team_report():
    zone = viewer_zone()
    try:
        today = local_today(zone, datetime.now(UTC))
        period = team_service.parse_period(db.session, request.args, today, zone)
    except ValidationError as exc:
        errors = {name: [translate(m) for m in messages] for name, messages in exc.fields.items()}
        return render_template(
            "reports/team.html", args=request.args, errors=errors, report=None, max_days=service.MAX_DAYS,
        ), 422
    report = team_service.team_report(db.session, period)
    shown = report.with_contacts
    return render_template(
        "reports/team.html",
        args={"from": period.start.isoformat(), "to": period.end.isoformat()},
        errors={},
        report=report,
        outcomes=OUTCOMES,
        outcome_labels=OUTCOME_LABELS,
        open_chart=_spread_chart(shown, "to_open") if shown else None,
        close_chart=_spread_chart(shown, "to_close") if shown else None,
        outcome_chart=_outcome_chart(shown) if any(r.figures.closed for r in shown) else None,
        spread_desc=_spread_desc,
        outcome_desc=_outcome_desc,
        duration=duration,
        share=_share,
        day=lambda value: format_date(value, "medium"),
        max_days=service.MAX_DAYS,
    )


def duration(seconds: float | None) -> str:
    """A duration as a supervisor says it: "45 s", "4 min", "1 h 20 min", "2 d 3 h"; None: "—"."""
    if seconds is None:
        return "—"
    whole = max(0, round(seconds))
    if whole < 60:
        return _("%(num)s s", num=whole)
    minutes = round(whole / 60)
    if minutes < 60:
        return _("%(num)s min", num=minutes)
    if minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        if not minutes:
            return _("%(num)s h", num=hours)
        return _("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
    days, hours = divmod(round(minutes / 60), 24)
    if not hours:
        return _("%(num)s d", num=format_decimal(days))
    return _("%(days)s d %(hours)s h", days=format_decimal(days), hours=hours)


def _share(value: float | None) -> str:
    return percent_text(value, 0)


def _spread_chart(rows: list[team_service.OperatorRow], measure: str):
    spreads = [(row.name, getattr(row.figures, measure)) for row in rows]
    longest = max([s.p90 for _name, s in spreads if s.p90 is not None] + [0.0])
    return spread_chart(
        [
            SpreadRow(
                name=name,
                median=s.median,
                p90=s.p90,
                median_title=ngettext("%(name)s: half of %(count)s contact within %(time)s",
                                      "%(name)s: half of %(count)s contacts within %(time)s", s.count,
                                      name=name, count=format_decimal(s.count), time=duration(s.median)),
                p90_title=ngettext("%(name)s: 90%% of %(count)s contact within %(time)s",
                                   "%(name)s: 90%% of %(count)s contacts within %(time)s", s.count,
                                   name=name, count=format_decimal(s.count), time=duration(s.p90)),
            )
            for name, s in spreads
        ],
        _time_unit(longest),
        duration,
        (_("Median"), _("90th percentile")),
    )


def _spread_desc(report: team_service.TeamReport, measure: str) -> str:
    spreads = [(row.name, getattr(row.figures, measure)) for row in report.with_contacts]
    return "; ".join(
        _("%(name)s: median %(median)s, 90th percentile %(p90)s", name=name, median=duration(s.median),
          p90=duration(s.p90))
        for name, s in spreads
    )


def _outcome_chart(rows: list[team_service.OperatorRow]):
    stacks = []
    for row in rows:
        figures = row.figures
        segments = [
            ShareSegment(OUTCOME_CSS[o], figures.share(o) or 0.0,
                         ngettext("%(name)s, %(outcome)s: %(count)s of %(total)s closed (%(share)s)",
                                  "%(name)s, %(outcome)s: %(count)s of %(total)s closed (%(share)s)",
                                  figures.closed, name=row.name, outcome=OUTCOME_LABELS[o],
                                  count=format_decimal(figures.outcomes[o]),
                                  total=format_decimal(figures.closed), share=_share(figures.share(o))))
            for o in OUTCOMES
        ] if figures.closed else []
        note = _("%(num)s closed", num=format_decimal(figures.closed)) if figures.closed else _("none closed")
        stacks.append(StackRow(row.name, segments, note))
    return stack_chart(stacks, [(OUTCOME_CSS[o], str(OUTCOME_LABELS[o])) for o in OUTCOMES], _share)


def _outcome_desc(report: team_service.TeamReport) -> str:
    return "; ".join(
        f"{row.name}: " + ", ".join(f"{OUTCOME_LABELS[o]} {_share(row.figures.share(o))}" for o in OUTCOMES)
        for row in report.with_contacts if row.figures.closed
    )
