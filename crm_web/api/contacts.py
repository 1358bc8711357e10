"""/api/v1/contacts: staff intake, listing, manual assignment, closing."""

from __future__ import annotations

from flask import current_app, request

from ..domain.identifiers import parse_contact_input
from ..extensions import db
from ..serializers import contact_dict
from ..services import contacts as service
from ..services.errors import NotFound, ValidationError
from ..services.intake import register_contact
from ..services.sources import get_source
from ..services.validation import is_id
from . import bp
from .common import after_arg, current_user, int_arg, json_object, page_body, pagination_args, rng


@bp.post("/contacts")
def create_contact():
    body = json_object()
    source_id = body.get("source_id")
    errors: dict[str, list[str]] = {}
    if not is_id(source_id):
        errors["source_id"] = ["Must be the id of a source."]
    try:
        data = parse_contact_input(body, current_app.config["CRM_PHONE_REGION"])
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationError(errors, "Some fields are invalid.")
    try:
        source = get_source(db.session, source_id)
    except NotFound as exc:
        raise ValidationError.single("source_id", f"Source {source_id} does not exist.") from exc
    result = register_contact(db.session, source, data, rng())
    return result.body, 201


@bp.get("/contacts")
def list_contacts():
    errors: dict[str, list[str]] = {}
    page, per_page = pagination_args(errors)
    after = after_arg(errors)
    status = request.args.get("status") or None
    if status is not None and status not in service.STATUSES:
        errors["status"] = [f"Must be one of {', '.join(service.STATUSES)}."]
    filters = service.ContactFilters(
        status=status,
        operator_id=int_arg("operator_id", errors),
        source_id=int_arg("source_id", errors),
        lead_id=int_arg("lead_id", errors),
    )
    if errors:
        raise ValidationError(errors, "Invalid filters.")
    return page_body(service.list_contacts(db.session, filters, page, per_page, after), contact_dict)


@bp.get("/contacts/<int:contact_id>")
def get_contact(contact_id: int):
    return contact_dict(service.get_contact(db.session, contact_id))


@bp.post("/contacts/<int:contact_id>/assign")
def assign_contact(contact_id: int):
    body = json_object()
    operator_id = body.get("operator_id")
    if not is_id(operator_id):
        raise ValidationError.single("operator_id", "Must be the id of an operator.")
    service.get_contact(db.session, contact_id)  # 404 first
    contact = service.assign_manually(db.session, contact_id, operator_id, current_user())
    return contact_dict(contact)


@bp.post("/contacts/<int:contact_id>/close")
def close_contact(contact_id: int):
    contact = service.close_contact(db.session, contact_id, current_user())
    return contact_dict(contact)
