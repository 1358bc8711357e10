"""CSV downloads of the contacts and leads lists, with the list pages' own filters, streamed."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, abort, current_app, request, stream_with_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..core.extensions import db
from ..domain.local_time import local_today
from ..services import exports
from . import bp
from .access import staff_required
from .contacts import filter_form
from .forms import OUTCOME_LABELS
from .local_time import viewer_zone

# The headers of a file read in another language than English; in English the files keep the column
# names they always had (docs/pages.md), which scripts read. utm_* are never renamed (contract §2a).
CSV_HEADERS = {
    "id": _l("Number"), "created_at": _l("Received"), "status": _l("Status"), "source": _l("Source"),
    "operator": _l("Operator"), "lead_id": _l("Lead number"), "lead_name": _l("Lead's name"),
    "lead_phone": _l("Lead's phone"), "lead_email": _l("Lead's email"),
    "lead_external_id": _l("Lead's external id"), "name": _l("Name"), "message": _l("Message"),
    "assigned_at": _l("Assigned"), "closed_at": _l("Closed"), "outcome": _l("Outcome"),
    "notes": _l("Number of notes"), "last_note": _l("Last note"), "page_url": _l("Page address"),
    "form_fields": _l("Other form fields"), "warnings": _l("Warnings"),
    # The leads file's own.
    "phone": _l("Phone"), "email": _l("Email"), "external_id": _l("External id"), "contacts": _l("Contacts"),
    "last_contact_at": _l("Last contact"),
}
LEAD_HEADERS = {"created_at": _l("First seen")}
# Russian spreadsheets split on ";" (the comma is their decimal mark); everyone else's on ",".
SEPARATORS = {"ru": ";"}


def csv_style(leads: bool = False) -> exports.CsvStyle:
    """The viewer's file (contract §5): separator, headers and words in the page's language, times
    in the viewer's zone."""
    locale, zone = str(get_locale() or "en"), viewer_zone()
    separator = SEPARATORS.get(locale, ",")
    if locale == "en":
        return exports.CsvStyle(separator=separator, zone=zone)
    headers = {**CSV_HEADERS, **(LEAD_HEADERS if leads else {})}
    return exports.CsvStyle(
        separator=separator,
        headers={name: str(label) for name, label in headers.items()},
        statuses={"closed": _("closed"), "unassigned": _("unassigned"), "assigned": _("assigned")},
        outcomes={code: str(label) for code, label in OUTCOME_LABELS.items()},
        zone=zone,
    )


def _csv_response(chunks, name: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.charset = "utf-8"
    day = local_today(viewer_zone(), datetime.now(UTC)).isoformat()
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{day}.csv"'
    response.headers["Cache-Control"] = "no-store"  # client data: keep it out of shared caches
    return response


def _batch_size() -> int:
    return current_app.config.get("CRM_EXPORT_BATCH_SIZE", exports.BATCH_SIZE)


# Who may download: whoever may open the list page (every staff member sees
# /contacts and /leads, operators included), with the same filters.
@bp.get("/contacts/export.csv")
@staff_required
def export_contacts():
    form = filter_form()
    if not form.validate():
        abort(422)
    style = csv_style()
    db.session.commit()  # end the look-up's read transaction: each batch reads on its own
    return _csv_response(exports.contact_rows(db.session, form.filters(), _batch_size(), style), "contacts")


@bp.get("/leads/export.csv")
@staff_required
def export_leads():
    # A search the list page refuses is a ValidationError: the 422 page, before any row.
    chunks = exports.lead_rows(
        db.session, request.args.get("q"), current_app.config["CRM_PHONE_REGION"], _batch_size(),
        csv_style(leads=True),
    )
    db.session.commit()
    return _csv_response(chunks, "leads")
