"""/api/v1/contacts: staff intake, listing, manual assignment, closing."""

from __future__ import annotations

from ..core.extensions import db
from ..domain.errors import NotFound, ValidationError
from ..services import contacts as service
from ..services.intake import register_contact
from ..services.sources import get_source
from . import bp
from .common import body, current_user, query, rng
from .schemas import Assign, ContactCreate, ContactQuery
from .serializers import ContactPage, contact_dict, intake_body, page_dict


@bp.post("/contacts")
def create_contact():
    given = body(ContactCreate)
    try:
        source = get_source(db.session, given.source_id)
    except NotFound as exc:
        raise ValidationError.single("source_id", f"Source {given.source_id} does not exist.") from exc
    result = register_contact(db.session, source, given.contact, rng())
    return intake_body(result), 201


@bp.get("/contacts")
def list_contacts():
    q = query(ContactQuery)
    filters = service.ContactFilters(
        status=q.status, operator_id=q.operator_id, source_id=q.source_id, lead_id=q.lead_id,
        utm_source=q.utm_source,
    )
    return page_dict(ContactPage, service.list_contacts(db.session, filters, q.page, q.per_page, q.after))


@bp.get("/contacts/<int:contact_id>")
def get_contact(contact_id: int):
    return contact_dict(service.get_contact(db.session, contact_id))


@bp.post("/contacts/<int:contact_id>/assign")
def assign_contact(contact_id: int):
    operator_id = body(Assign).operator_id
    service.get_contact(db.session, contact_id)  # 404 first
    contact = service.assign_manually(db.session, contact_id, operator_id, current_user())
    return contact_dict(contact)


@bp.post("/contacts/<int:contact_id>/close")
def close_contact(contact_id: int):
    contact = service.close_contact(db.session, contact_id, current_user())
    return contact_dict(contact)
