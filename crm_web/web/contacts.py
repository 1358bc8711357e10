"""Contacts: intake form, list with filters, one contact, closing, and "my contacts"."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from wtforms import HiddenField, SearchField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms import ValidationError as FieldError
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from ..core.extensions import db
from ..domain.errors import Conflict, ValidationError
from ..domain.form_body import UTM_KEYS
from ..domain.form_reading import MAX_UTM
from ..domain.identifiers import INTAKE_FIELDS, parse_contact_input
from ..domain.outcomes import DEFAULT_OUTCOME, MAX_NOTE, OUTCOMES, SPAM
from ..domain.search import MAX_QUERY, SearchQuery, parse_query
from ..models import Contact, utcnow
from ..services import contacts as service
from ..services.audit_queries import subject_history
from ..services.contacts import ContactFilters
from ..services.drain import mark_opened, recently_returned
from ..services.intake import register_contact
from ..services.leads import earlier_contacts
from ..services.notes import add_note as add_note_service
from ..services.notes import notes_of, recent_notes
from ..services.operators import all_operators, get_operator, update_operator
from ..services.sources import all_sources
from . import bp
from .access import signed_in_user, staff_required
from .audit import present
from .forms import OUTCOME_LABELS, CrmForm, EmailAddressField, PhoneField, apply_errors, submitted_or_400
from .i18n import translate
from .pages import (
    PER_PAGE,
    assignable_operators,
    found_or_none,
    keyset_page,
    page_arg,
    render_form,
    safe_next,
)
from .validators import id_value


class IntakeForm(CrmForm):
    source_id = SelectField(_l("Source"), coerce=id_value, validators=[InputRequired()])
    external_id = StringField(_l("External id"), validators=[Optional(), Length(max=255)])
    phone = PhoneField(_l("Phone"), validators=[Optional(), Length(max=64)])
    email = EmailAddressField(_l("Email"), validators=[Optional(), Length(max=320)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=255)])
    message = TextAreaField(_l("Message"), validators=[Optional(), Length(max=10_000)])


def _lf(value):
    """A textarea's line ends as typed (browsers send CRLF): a note's length counts each as one."""
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def _outcome_choices() -> list[SelectChoice]:
    return [SelectChoice(code, OUTCOME_LABELS[code]) for code in OUTCOMES]


class CloseForm(CrmForm):
    """Close with an outcome (done when not sent) and an optional note, in one step.

    The outcome and the note are checked by the service (domain/outcomes.py), whose errors come back
    onto these fields."""

    next = HiddenField()
    outcome = SelectField(
        _l("Outcome"), choices=_outcome_choices, default=DEFAULT_OUTCOME, validate_choice=False
    )
    note = TextAreaField(_l("Note"), filters=[_lf], render_kw={"maxlength": MAX_NOTE, "rows": 3})


class NoteForm(CrmForm):
    """A note on a contact (1 to MAX_NOTE characters once trimmed, checked by the service)."""

    next = HiddenField()
    text = TextAreaField(
        _l("Note"), filters=[_lf], render_kw={"maxlength": MAX_NOTE, "rows": 3, "required": True}
    )


class AvailabilityForm(CrmForm):
    """My contacts: pause (0) or resume (1) taking new contacts."""

    active = HiddenField(validators=[AnyOf(("0", "1"))])


class ContactFilterForm(CrmForm):
    """The GET filters of /contacts and of its CSV (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Search contacts"),
        render_kw={"maxlength": MAX_QUERY, "placeholder": _l("Name, message, phone digits or email")},
    )
    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("", _l("Any status")),
            SelectChoice("unassigned", _l("unassigned")),
            SelectChoice("assigned", _l("assigned")),
            SelectChoice("closed", _l("closed")),
        ],
        default="",
    )
    source_id = SelectField(_l("Source"), default="")
    operator_id = SelectField(_l("Operator"), default="")
    outcome = SelectField(
        _l("Outcome"),
        choices=lambda: [SelectChoice("", _l("Any outcome")), *_outcome_choices()],
        default="",
    )
    utm_source = StringField(
        _l("UTM source"),
        validators=[Optional(), Length(max=MAX_UTM)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"spellcheck": "false"},
    )

    search: SearchQuery | None = None

    def validate_q(self, field) -> None:
        if not (field.data or "").strip():
            return
        try:
            self.search = parse_query(field.data, current_app.config["CRM_PHONE_REGION"])
        except ValidationError as exc:
            raise FieldError(translate(exc.message)) from exc

    def filters(self) -> ContactFilters:
        return ContactFilters(
            status=self.status.data or None,
            source_id=int(self.source_id.data) if self.source_id.data else None,
            operator_id=int(self.operator_id.data) if self.operator_id.data else None,
            utm_source=self.utm_source.data or None,  # exact, as the form sent it (trimmed)
            outcome=self.outcome.data or None,
            search=self.search,
        )


def filter_form() -> ContactFilterForm:
    """The filters of the query string, offering every source and operator."""
    form = ContactFilterForm(formdata=request.args)
    form.source_id.choices = [SelectChoice("", _("Any source"))] + [
        SelectChoice(str(s.id), s.name) for s in all_sources(db.session)
    ]
    form.operator_id.choices = [SelectChoice("", _("Any operator"))] + [
        SelectChoice(str(o.id), o.name) for o in all_operators(db.session)
    ]
    return form


@bp.route("/contacts/new", methods=["GET", "POST"])
@staff_required
def new_contact():
    sources = [s for s in all_sources(db.session) if s.is_active]
    form = IntakeForm()
    form.source_id.choices = [SelectChoice(s.id, s.name) for s in sources]
    if form.validate_on_submit():
        raw = {field: getattr(form, field).data for field in INTAKE_FIELDS}
        try:
            data = parse_contact_input(raw, current_app.config["CRM_PHONE_REGION"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            source = next(s for s in sources if s.id == form.source_id.data)
            try:
                result = register_contact(db.session, source, data, current_app.extensions["crm_rng"])
            except ValidationError as exc:  # the source was disabled since the list was read
                apply_errors(form, exc)
            else:
                return redirect(url_for("web.contact", contact_id=result.contact.id, created=1), code=303)
    return render_form("contacts/new.html", form, sources=sources)


@bp.get("/contacts")
@staff_required
def contacts():
    form = filter_form()
    if not form.validate():
        return render_form("contacts/list.html", form, page=None, args={})
    filters = form.filters()
    page = keyset_page(
        lambda number, after: service.list_contacts(db.session, filters, number, PER_PAGE, after)
    )
    args = {name: value for name, value in form.data.items() if value}
    return render_template("contacts/list.html", form=form, page=page, args=args)


@bp.get("/contacts/<int:contact_id>")
@staff_required
def contact(contact_id: int):
    return contact_page(contact_id)


def contact_page(contact_id: int, close_form: CloseForm | None = None, note_form: NoteForm | None = None):
    """The contact's page; a close or note form that failed comes back with its errors (422)."""
    contact = service.get_contact(db.session, contact_id)
    if (
        request.method == "GET"  # a refused form shown again writes nothing
        and contact.first_opened_at is None
        and contact.is_active
        and contact.operator_id is not None
        and contact.operator_id == current_user.operator_id
    ):
        # Its operator has seen it: it no longer returns to the queue unopened.
        mark_opened(db.session, contact.id, contact.operator_id)
    created = request.args.get("created") == "1"
    failed = close_form or note_form
    back = safe_next(failed.next.data if failed else request.args.get("next"))  # where its forms return
    status = 422 if failed and failed.errors else 200
    return render_template(
        "contacts/detail.html",
        contact=contact,
        created=created,
        returning=earlier_contacts(db.session, contact.lead_id, contact.id) if created else None,
        operators=assignable_operators()
        if contact.status == "unassigned" and current_user.is_supervisor
        else [],
        may_close=contact.is_active and _may_close(contact),
        close_form=close_form or CloseForm(formdata=None, next=back),
        note_form=note_form or NoteForm(formdata=None, next=back),
        notes=notes_of(db.session, contact.id),
        # Closed as spam: offer to close the client's other open contacts from this source too.
        spam_offer=service.same_source_open(db.session, contact, signed_in_user())
        if contact.outcome == SPAM and not contact.is_active
        else 0,
        back=back,
        history=[present(event) for event in subject_history(db.session, "contact", contact.id)],
        utm=_utm_marks(contact.utm),
        page_link=web_link(contact.page_url),
    ), status


def _may_close(contact: Contact) -> bool:
    own = contact.operator_id is not None and contact.operator_id == current_user.operator_id
    return current_user.is_supervisor or own


@bp.app_template_global()
def outcome_label(code: str | None) -> str:
    """An outcome as the page names it (templates/_macros.html, the audit trail's titles)."""
    label = OUTCOME_LABELS.get(code) if code else None
    return str(label) if label is not None else (code or "")


bp.add_app_template_global(MAX_NOTE, "MAX_NOTE")  # the note fields' maxlength


@bp.app_template_global()
def outcome_choices() -> list[tuple[str, str]]:
    """(code, name) of every outcome, in the domain's order: the close forms of the list rows."""
    return [(code, str(OUTCOME_LABELS[code])) for code in OUTCOMES]


def _utm_marks(utm: dict | None) -> list[tuple[str, str]]:
    """The contact's UTM marks in their usual order (utm_source first), then any others."""
    utm = utm or {}
    return [(key, utm[key]) for key in UTM_KEYS if utm.get(key)] + [
        (key, value) for key, value in utm.items() if key not in UTM_KEYS and value
    ]


def web_link(url: str | None) -> str | None:
    """`url` when a browser may follow it from our pages: http or https with a host, else None
    (javascript:, data: and the like are shown as text, never as a link)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(ord(c) < 32 for c in url):
        return None
    return url.strip()


@bp.post("/contacts/<int:contact_id>/close")
@staff_required
def close_contact(contact_id: int):
    form = CloseForm()
    if not form.validate_on_submit():  # a NUL in the note (CSRF is refused before: 400)
        return contact_page(contact_id, close_form=form)
    back = safe_next(form.next.data)
    note = form.note.data if form.note.data and form.note.data.strip() else None  # blank: no note
    try:
        closed = service.close_contact(db.session, contact_id, signed_in_user(), form.outcome.data, note)
    except ValidationError as exc:
        apply_errors(form, exc)
        return contact_page(contact_id, close_form=form)
    except Conflict as exc:
        if exc.code == "already_closed":
            flash(_("Contact #%(id)s was already closed.", id=contact_id), "warning")
        else:
            flash(_("Contact #%(id)s changed meanwhile; look and try again.", id=contact_id), "warning")
    else:
        outcome = OUTCOME_LABELS[closed.outcome]
        flash(_("Contact #%(id)s closed: %(outcome)s.", id=contact_id, outcome=outcome), "success")
        if closed.outcome == SPAM and service.same_source_open(db.session, closed, signed_in_user()):
            # The offer to close the others is on the contact's page; from there back to `back`.
            return redirect(url_for("web.contact", contact_id=contact_id, next=back), code=303)
    return redirect(back or url_for("web.contact", contact_id=contact_id), code=303)


class SameSourceForm(CrmForm):
    next = HiddenField()


@bp.post("/contacts/<int:contact_id>/close-same-source")
@staff_required
def close_same_source(contact_id: int):
    """Close the other open contacts of a spam contact's client from the same source, as spam."""
    form = submitted_or_400(SameSourceForm)
    try:
        closed = service.close_same_source_as_spam(db.session, contact_id, signed_in_user())
    except Conflict:
        flash(_("Contact #%(id)s was not closed as spam.", id=contact_id), "warning")
    else:
        flash(ngettext("%(num)d more contact closed as spam.", "%(num)d more contacts closed as spam.",
                       len(closed)), "success")
    return redirect(safe_next(form.next.data) or url_for("web.contact", contact_id=contact_id), code=303)


@bp.post("/contacts/<int:contact_id>/notes")
@staff_required
def add_note(contact_id: int):
    """Any staff member adds a note to any contact; a refused one comes back on the contact's page."""
    form = NoteForm()
    if form.validate_on_submit():
        try:
            add_note_service(db.session, contact_id, signed_in_user(), form.text.data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Note added to contact #%(id)s.", id=contact_id), "success")
            back = safe_next(form.next.data)
            return redirect(back or url_for("web.contact", contact_id=contact_id, _anchor="notes"), code=303)
    return contact_page(contact_id, note_form=form)


MY_NOTES = 3  # the latest notes shown with each of my contacts (all on the contact's page)


@bp.get("/my")
@staff_required
def my_contacts():
    operator = _my_operator()
    if operator is None:
        return render_template("contacts/my.html", operator=None, page=None)
    filters = ContactFilters(status="assigned", operator_id=operator.id)
    page = service.list_contacts(db.session, filters, page_arg(), PER_PAGE)
    returned = recently_returned(db.session, operator.id, utcnow() - timedelta(days=7))
    return render_template(
        "contacts/my.html", operator=operator, page=page, form=AvailabilityForm(), returned=returned,
        notes=recent_notes(db.session, [c.id for c in page.items], MY_NOTES),
    )


@bp.post("/my/availability")
@staff_required
def my_availability():
    operator = _my_operator()
    if operator is None:
        abort(404)
    form = AvailabilityForm()
    if form.validate_on_submit():
        active = form.active.data == "1"
        update_operator(db.session, operator.id, {"is_active": active})
        if active:
            flash(_("You are back: new contacts may be given to you again."), "success")
        else:
            flash(_("Paused: you receive no new contacts until you resume."), "success")
    else:
        flash(_("Choose to pause or to resume."), "error")
    return redirect(url_for("web.my_contacts"), code=303)


def _my_operator():
    """The Operator the signed-in user works as, or None (a supervisor without one)."""
    return found_or_none(get_operator, current_user.operator_id) if current_user.operator_id else None
