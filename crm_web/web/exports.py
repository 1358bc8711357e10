"""CSV downloads of the contacts and leads lists, with the list pages' own filters, streamed."""

from __future__ import annotations

from datetime import date

from flask import Response, abort, current_app, request, stream_with_context

from ..core.extensions import db
from ..services import exports
from . import bp
from .access import staff_required
from .contacts import filter_form


def _csv_response(chunks, name: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{date.today().isoformat()}.csv"'
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
    db.session.commit()  # end the look-up's read transaction: each batch reads on its own
    return _csv_response(exports.contact_rows(db.session, form.filters(), _batch_size()), "contacts")


@bp.get("/leads/export.csv")
@staff_required
def export_leads():
    # A search the list page refuses is a ValidationError: the 422 page, before any row.
    chunks = exports.lead_rows(
        db.session, request.args.get("q"), current_app.config["CRM_PHONE_REGION"], _batch_size()
    )
    db.session.commit()
    return _csv_response(chunks, "leads")

