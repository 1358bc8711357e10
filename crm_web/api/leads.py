"""/api/v1/leads"""

from __future__ import annotations

from flask import current_app, request

from ..extensions import db
from ..serializers import lead_dict
from ..services import leads as service
from ..services.errors import ValidationError
from . import bp
from .common import after_arg, page_body, pagination_args


@bp.get("/leads")
def list_leads():
    errors: dict[str, list[str]] = {}
    page, per_page = pagination_args(errors)
    after = after_arg(errors)
    try:
        filters = service.search_identifiers(
            request.args.get("phone"),
            request.args.get("email"),
            request.args.get("external_id"),
            current_app.config["CRM_PHONE_REGION"],
        )
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationError(errors, "Invalid filters.")
    return page_body(service.list_leads(db.session, filters, page, per_page, after), lead_dict)


@bp.get("/leads/<int:lead_id>")
def get_lead(lead_id: int):
    return lead_dict(service.get_lead(db.session, lead_id), with_contacts=True)
