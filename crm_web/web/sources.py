"""/sources: list, create, edit, webhook URL and token, weight tables, what the webhook receives
(form format, field map, VK's confirmation string), how to connect each sender and the recent
deliveries (supervisors)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..core.extensions import db
from ..domain.choice import shares
from ..domain.errors import Conflict, ValidationError
from ..domain.form_body import MAX_FIELD_MAP, MAX_FIELD_NAME, TARGETS
from ..domain.form_reading import FORM_FORMATS, MAX_VK_CONFIRMATION
from ..domain.site_forms import origins_from_text, split_origins
from ..domain.weights import parse_weight
from ..services import sources as service
from ..services.deliveries import recent_deliveries
from ..services.operators import all_operators
from . import bp
from .access import supervisor_required
from .forms import CrmForm, EmptyForm, apply_errors
from .i18n import translate
from .numbers import decimal_text, percent_text
from .pages import render_form
from .toggles import SOURCE_FLASHES, toggle_active


class SourceForm(CrmForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    key = StringField(
        _l("Key"),
        validators=[Optional(), Length(max=64)],
        description=_l("Used in the webhook URL; lower-case letters, digits, '-' and '_'. "
                       "Leave empty to derive it from the name."),
    )
    is_active = BooleanField(_l("Enabled (accepts webhooks)"), default=True)
    # Checked by the service (crm_web/domain/site_forms.py); the form only carries the text.
    allowed_origins = TextAreaField(
        _l("Sites allowed to send from the browser (CORS)"),
        validators=[Optional(), Length(max=5000)],
        description=_l("One origin per line, e.g. https://www.example.com. Only needed for scripts "
                       "(fetch) on those sites; a plain HTML form works from any site. Empty: none."),
        render_kw={"rows": 3, "spellcheck": "false"},
    )
    thank_you_url = StringField(
        _l("Thank-you page"),
        validators=[Optional(), Length(max=2048)],
        description=_l("Where a visitor's browser goes after sending a plain HTML form, e.g. "
                       "https://www.example.com/thanks. Empty: the form gets the JSON answer."),
    )


# What a source's webhook receives (contract §2a), as the page names it.
FORMAT_LABELS = {
    "standard": _l("Standard: the fields external_id, phone, email, name, message"),
    "site_form": _l("Site form: any form builder or site script"),
    "vk": _l("VK lead forms (Callback API)"),
}
TARGET_LABELS = {
    "name": _l("Name"),
    "phone": _l("Phone"),
    "email": _l("Email"),
    "external_id": _l("External id"),
    "message": _l("Message"),
}
BLANK_MAP_ROWS = 2  # empty rows offered below the map (the page's script adds more)


class FormatForm(CrmForm):
    """What the webhook receives; the field map comes as rows of map_field/map_target pairs."""

    form_format = SelectField(
        _l("Format"),
        choices=[SelectChoice(value, FORMAT_LABELS[value]) for value in FORM_FORMATS],
        validators=[InputRequired()],
    )
    vk_confirmation = StringField(
        _l("VK confirmation string"),
        validators=[Optional(), Length(max=MAX_VK_CONFIRMATION)],
        description=_l("VK shows it in the Callback API settings as the string the server must "
                       "return. Only for the VK format."),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


@dataclass
class MapRow:
    """One row of the field map editor: an incoming field name and what it becomes."""

    field: str = ""
    target: str = ""
    error: str | None = None


@bp.get("/sources")
@supervisor_required
def sources():
    return render_template("sources/list.html", sources=service.all_sources(db.session),
                           rule_counts=service.rule_counts(db.session), form=EmptyForm())


@bp.route("/sources/new", methods=["GET", "POST"])
@supervisor_required
def new_source():
    form = SourceForm()
    if form.validate_on_submit():
        data = {"name": form.name.data, **_site_form_data(form)}
        if form.key.data and form.key.data.strip():
            data["key"] = form.key.data
        try:
            source = service.create_source(db.session, data)
        except (ValidationError, Conflict) as exc:
            apply_errors(form, exc, conflict_field=_conflict_field(exc))
        else:
            flash(_("Source %(name)s created. Give it weights so that its contacts reach operators.",
                    name=source.name), "success")
            return redirect(url_for("web.source", source_id=source.id), code=303)
    return render_form("sources/form.html", form, source=None)


@bp.get("/sources/<int:source_id>")
@supervisor_required
def source(source_id: int):
    source = service.get_source(db.session, source_id)
    rows = [MapRow(field, target) for field, target in (source.field_map or {}).items()]
    return _source_page(source, FormatForm(obj=source), rows)


@bp.post("/sources/<int:source_id>/format")
@supervisor_required
def source_format(source_id: int):
    """Save the form format, the field map and VK's confirmation string; checked as the API checks them."""
    source = service.get_source(db.session, source_id)
    form = FormatForm()
    rows = _posted_rows()
    map_errors: list[str] = []
    if form.validate_on_submit():
        field_map = _field_map(rows)
        if field_map is not None:
            try:
                service.update_source(db.session, source_id, {
                    "form_format": form.form_format.data,
                    "field_map": field_map,
                    "vk_confirmation": form.vk_confirmation.data or None,
                })
            except ValidationError as exc:
                map_errors = [translate(m) for m in exc.fields.get("field_map", [])]
                others = {name: messages for name, messages in exc.fields.items() if name != "field_map"}
                if others or not map_errors:
                    apply_errors(form, ValidationError(others, exc.message))
            else:
                flash(_("What %(name)s receives is saved.", name=source.name), "success")
                return redirect(url_for("web.source", source_id=source_id, _anchor="format"), code=303)
    return _source_page(source, form, rows, map_errors, status=422)


def _source_page(source, format_form: FormatForm, rows: list[MapRow], map_errors=(), status: int = 200):
    """The source's page: webhook, weights, what it receives, how to connect, recent deliveries."""
    rules = service.distribution_rules(db.session, source.id)
    share = shares({rule.operator_id: rule.weight for rule in rules})
    webhook_url = _webhook_url(source.key)
    blank = max(0, min(BLANK_MAP_ROWS, MAX_FIELD_MAP - len(rows)))
    return render_template(
        "sources/detail.html",
        source=source,
        webhook_url=webhook_url,
        token_url=f"{webhook_url}?token={quote(source.webhook_token, safe='')}",
        allowed_origins=origins_from_text(source.allowed_origins),
        rules=rules,
        weights={rule.operator_id: decimal_text(rule.weight) for rule in rules},
        shares={op_id: _percent(value) for op_id, value in share.items()},
        format_form=format_form,
        format_labels=FORMAT_LABELS,
        map_rows=rows + [MapRow() for _ in range(blank)],
        map_errors=list(map_errors),
        max_field_map=MAX_FIELD_MAP,
        max_field_name=MAX_FIELD_NAME,
        targets=TARGET_LABELS,
        deliveries=recent_deliveries(db.session, source.id),
        form=EmptyForm(),
    ), status


def _posted_rows() -> list[MapRow]:
    """The editor's rows as posted (parallel lists); rows with neither a name nor a target are left out."""
    names = request.form.getlist("map_field")
    targets = request.form.getlist("map_target")
    rows = []
    for index in range(max(len(names), len(targets))):
        name = names[index].strip() if index < len(names) else ""
        target = targets[index] if index < len(targets) else ""
        if name or target:
            rows.append(MapRow(name, target))
    return rows


def _field_map(rows: list[MapRow]) -> dict[str, str] | None:
    """{incoming field: target} from the rows; None when a row is incomplete or repeats a name
    (the row says why). Everything else (the count, the targets, the names' length) the service checks."""
    field_map: dict[str, str] = {}
    for row in rows:
        if not row.field:
            row.error = _("Type the name of the field as the form sends it.")
        elif row.target not in TARGETS:
            row.error = _("Choose what the field %(field)s becomes.", field=row.field)
        elif row.field in field_map:
            row.error = _("Field name %(field)s is given twice.", field=repr(row.field))
        else:
            field_map[row.field] = row.target
    return None if any(row.error for row in rows) else field_map


@bp.route("/sources/<int:source_id>/edit", methods=["GET", "POST"])
@supervisor_required
def edit_source(source_id: int):
    source = service.get_source(db.session, source_id)
    form = SourceForm(obj=source)
    if form.validate_on_submit():
        data = {"name": form.name.data, "key": form.key.data or "", "is_active": form.is_active.data,
                **_site_form_data(form)}
        try:
            service.update_source(db.session, source_id, data)
        except (ValidationError, Conflict) as exc:
            apply_errors(form, exc, conflict_field=_conflict_field(exc))
        else:
            flash(_("Source %(name)s saved.", name=form.name.data.strip()), "success")
            return redirect(url_for("web.source", source_id=source_id), code=303)
    return render_form("sources/form.html", form, source=source)


@bp.post("/sources/<int:source_id>/active")
@supervisor_required
def toggle_source(source_id: int):
    source = service.get_source(db.session, source_id)
    return toggle_active(source, service.update_source, SOURCE_FLASHES, back="web.sources")


@bp.post("/sources/<int:source_id>/token")
@supervisor_required
def rotate_source_token(source_id: int):
    source = service.get_source(db.session, source_id)
    if EmptyForm().validate_on_submit():
        service.rotate_token(db.session, source_id)
        flash(_("A new token was issued for %(name)s. The old token no longer works: "
                "update every form that sends to this source.", name=source.name), "success")
    return redirect(url_for("web.source", source_id=source_id), code=303)


@bp.route("/sources/<int:source_id>/weights", methods=["GET", "POST"])
@supervisor_required
def weights(source_id: int):
    source = service.get_source(db.session, source_id)
    operators = all_operators(db.session)
    form = EmptyForm()
    errors: dict[int, str] = {}
    if form.validate_on_submit():
        values = {op.id: request.form.get(f"weight-{op.id}", "").strip() for op in operators}
        table, errors = _parse_weights(values)
        if not errors:
            try:
                service.replace_distribution(db.session, source_id, table)
            except ValidationError as exc:  # an operator was deleted meanwhile
                form.form_errors.append(translate(exc.message))
            else:
                flash(_("Weights of %(name)s saved.", name=source.name), "success")
                return redirect(url_for("web.weights", source_id=source_id), code=303)
    else:
        table = {rule.operator_id: rule.weight for rule in service.distribution_rules(db.session, source_id)}
        # In the page's language (`30,50`): the form takes a decimal comma as well as a point.
        values = {op_id: decimal_text(weight) for op_id, weight in table.items()}
    return render_form(
        "sources/weights.html",
        form,
        status=422 if errors else 200,
        source=source,
        operators=operators,
        values=values,
        errors=errors,
        shares={op_id: _percent(value) for op_id, value in shares(table).items()},
    )


def _parse_weights(values: dict[int, str]) -> tuple[dict[int, Decimal], dict[int, str]]:
    """Weights per operator from the form: empty means no rule."""
    table: dict[int, Decimal] = {}
    errors: dict[int, str] = {}
    for op_id, text in values.items():
        if not text:
            continue
        try:
            # A decimal comma is what many keyboards type; the live shares accept it too.
            table[op_id] = parse_weight(text.replace(",", ".", 1))
        except ValueError as exc:
            errors[op_id] = translate(str(exc))
    return table, errors


def _site_form_data(form: SourceForm) -> dict:
    """Allowed origins as typed (one per line) and the thank-you URL, for the service to check."""
    return {
        "allowed_origins": split_origins(form.allowed_origins.data or ""),
        "thank_you_url": form.thank_you_url.data or None,
    }


def _webhook_url(key: str) -> str:
    """The address form builders post to: CRM_PUBLIC_URL when set (behind a proxy)."""
    base = current_app.config.get("CRM_PUBLIC_URL")
    if base:
        return base + url_for("webhooks.receive", source_key=key)
    return url_for("webhooks.receive", source_key=key, _external=True)


def _percent(share: float) -> str:
    # Same text as static/js/app.js writes while typing (Intl.NumberFormat in the page's language).
    return percent_text(share) if share > 0 else "—"


def _conflict_field(exc: Exception) -> str:
    return "key" if getattr(exc, "code", "") == "duplicate_key" else "name"

