"""/audit: the audit trail for supervisors, and readable events for the contact page."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from ..core.extensions import db
from ..models import AuditEvent
from ..services.audit_queries import SUBJECT_TYPES, AuditFilters, existing_subjects, list_events
from . import bp
from .access import supervisor_required
from .forms import BoundedIntegerField, CrmForm
from .labels import ACTION_LABELS, FIELD_LABELS, SUBJECT_LABELS, label, value_label
from .local_time import viewer_zone
from .numbers import decimal_text, percent_text
from .pages import PER_PAGE, after_arg, render_form

# Offered in the action filter; any other prefix may be typed.
KNOWN_ACTIONS = (
    "contact.", "contact.assigned", "contact.queued", "contact.closed", "contact.returned",
    "contact.note_added", "operator.", "source.", "weights.updated", "user.", "api_token.", "signin.failed",
)
NOTE_EXCERPT = 300  # characters of a note's text shown in the trail
# Keys of `details` shown by the "why" table or the before → after lines, not as plain facts.
_STRUCTURED = {"before", "after", "names", "candidates", "draw", "refused"}


class AuditFilterForm(CrmForm):
    """The GET filters of /audit (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    action = StringField(_l("Action"), validators=[Optional(), Length(max=64)],
                         render_kw={"list": "audit-actions", "placeholder": _l("Choose or type…")})
    actor = StringField(_l("Who"), validators=[Optional(), Length(max=400)],
                        render_kw={"placeholder": _l("email or a source's key")})
    subject_type = SelectField(
        _l("Subject"),
        choices=[SelectChoice("", _l("Any subject"))]
        + [SelectChoice(t, SUBJECT_LABELS.get(t, t)) for t in SUBJECT_TYPES],
        default="",
    )
    subject_id = BoundedIntegerField(_l("Subject id"), validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    user = BoundedIntegerField(validators=[Optional()])

    def validate_date_to(self, date_to):
        if date_to.data and self.date_from.data and date_to.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
        if date_to.data and date_to.data.year > 9998:  # the day after it must exist
            raise ValidationError(_l("Choose an earlier date."))


@bp.get("/audit")
@supervisor_required
def audit():
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        return render_form("audit/list.html", form, page=None, args={}, known_actions=_known_actions())
    filters = AuditFilters(
        action=(form.action.data or "").strip() or None,
        actor=(form.actor.data or "").strip() or None,
        actor_user_id=form.user.data,
        subject_type=form.subject_type.data or None,
        subject_id=form.subject_id.data,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        zone=viewer_zone(),
    )
    page = list_events(db.session, filters, PER_PAGE, after_arg())
    args = {name: value for name, value in request.args.items(multi=False)
            if name in form.data and form.data[name] not in (None, "")}
    return render_template(
        "audit/list.html",
        form=form,
        page=page,
        events=present_all(page.events),
        args=args,
        after=after_arg(),
        known_actions=_known_actions(),
    )


def _known_actions() -> list[tuple[str, str]]:
    """(code, name) of the actions offered by the filter; a prefix is named after its subject."""
    return [
        (code, _("%(subject)s: any action", subject=label(SUBJECT_LABELS, code[:-1]))
         if code.endswith(".") else label(ACTION_LABELS, code))
        for code in KNOWN_ACTIONS
    ]


# --- readable events ---------------------------------------------------------------------


@dataclass
class Change:
    label: str
    before: object = None
    after: object = None
    has_before: bool = True
    has_after: bool = True


@dataclass
class Candidate:
    operator_id: int | None
    name: str
    weight: str
    load: object
    max_load: object
    share: str | None = None  # "62.5%" of the draw in the page's language, None when not in it
    low: int | None = None  # its range of draw values [low, high)
    high: int | None = None
    won: bool = False
    refused: bool = False  # drawn, but filled up meanwhile

    @property
    def weight_text(self) -> str:
        """The weight in the page's language (`2,50`), or as stored if it is not a number."""
        try:
            return decimal_text(self.weight)
        except (InvalidOperation, ValueError):
            return self.weight


@dataclass
class Why:
    candidates: list[Candidate]
    winner: str | None
    draw_value: int | None = None
    draw_total: int | None = None


@dataclass
class EventView:
    event: AuditEvent
    details: dict
    changes: list[Change] = field(default_factory=list)
    facts: list[tuple[str, object, str]] = field(default_factory=list)  # key, value, label
    why: Why | None = None
    subject_has_page: bool = False

    @property
    def action_label(self) -> str:
        return label(ACTION_LABELS, self.event.action)

    @property
    def subject_label(self) -> str:
        return label(SUBJECT_LABELS, self.event.subject_type)


def present_all(events: list[AuditEvent]) -> list[EventView]:
    """Events ready for a template; subjects with a page found in one query per type."""
    linked = existing_subjects(db.session, events)
    views = []
    for event in events:
        view = present(event)
        view.subject_has_page = (event.subject_type, event.subject_id) in linked
        views.append(view)
    return views


def present(event: AuditEvent) -> EventView:
    details = _parse(event.details)
    view = EventView(event, details)
    before, after = details.get("before"), details.get("after")
    names = details.get("names") if isinstance(details.get("names"), dict) else {}
    if isinstance(before, dict) or isinstance(after, dict):
        before = before if isinstance(before, dict) else {}
        after = after if isinstance(after, dict) else {}
        keys = list(before) + [k for k in after if k not in before]
        for key in keys:
            named = names.get(key) or (f"#{key}" if key.isdigit() else label(FIELD_LABELS, key))
            view.changes.append(Change(
                named, _shown(key, before.get(key)), _shown(key, after.get(key)),
                has_before=key in before or bool(before), has_after=key in after or bool(after),
            ))
    view.facts = [
        (k, _shown(k, v), label(FIELD_LABELS, k))
        for k, v in details.items() if k not in _STRUCTURED and not isinstance(v, dict | list)
    ]
    if isinstance(details.get("candidates"), list):
        view.why = _why(details)
    return view


def _shown(key: str, value):
    """A stored value as the page says it: codes (roles, outcomes, reasons…) by name, a note cut short."""
    if key == "text" and isinstance(value, str) and len(value) > NOTE_EXCERPT:
        return value[:NOTE_EXCERPT] + "…"
    return value_label(key, value)


def _parse(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"details": text}
    return value if isinstance(value, dict) else {"details": value}


def _cents(weight) -> int:
    try:
        return int((Decimal(str(weight)) * 100).to_integral_value())
    except (InvalidOperation, ValueError):
        return 0


def _why(details: dict) -> Why:
    """Who could have had the contact, each one's chance, and where the draw fell."""
    refused = set(details.get("refused") or [])
    winner_id = details.get("operator_id")
    rows = []
    for raw in details["candidates"]:
        if not isinstance(raw, dict):
            continue
        op_id = raw.get("operator_id")
        rows.append(Candidate(
            op_id, str(raw.get("name") or f"#{op_id}"), str(raw.get("weight", "")),
            raw.get("load"), raw.get("max_load"),
            won=winner_id is not None and op_id == winner_id, refused=op_id in refused,
        ))
    draw = details.get("draw") if isinstance(details.get("draw"), dict) else {}
    why = Why(rows, details.get("operator_name"), draw.get("value"), draw.get("total"))
    # The last draw was among the candidates not refused before it, in this order.
    pool = [c for c in rows if not c.refused and _cents(c.weight) > 0]
    pool_total = sum(_cents(c.weight) for c in pool)
    low = 0
    for candidate in pool:
        cents = _cents(candidate.weight)
        candidate.share = percent_text(cents / pool_total) if pool_total else None
        if pool_total == why.draw_total:
            candidate.low, candidate.high = low, low + cents
        low += cents
    return why
