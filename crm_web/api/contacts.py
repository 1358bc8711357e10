"""/api/v1/contacts: staff intake, listing, manual assignment, closing, notes."""

from __future__ import annotations

from ..core.extensions import db
from ..domain.errors import NotFound, ValidationError
from ..services import contacts as service
from ..services import notes
from ..services.intake import register_contact
from ..services.sources import get_source
from . import bp
from .common import body, current_user, optional_body, query, rng, search_query
from .schemas import Assign, CloseBody, ContactCreate, ContactQuery, NoteCreate, PageQuery
from .serializers import (
    ContactPage,
    NotePage,
    closed_dict,
    contact_dict,
    intake_body,
    note_dict,
    page_dict,
)


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
        utm_source=q.utm_source, outcome=q.outcome, search=search_query(q.q),
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
    given = optional_body(CloseBody)
    contact, others = service.close_contact_and_others(
        db.session, contact_id, current_user(), given.outcome, given.note,
        same_source=given.also_close_same_source,
    )
    return closed_dict(contact, others if given.also_close_same_source else None)


@bp.get("/contacts/<int:contact_id>/notes")
def list_notes(contact_id: int):
    q = query(PageQuery)
    return page_dict(NotePage, notes.list_notes(db.session, contact_id, q.page, q.per_page))


@bp.post("/contacts/<int:contact_id>/notes")
def add_note(contact_id: int):
    text = body(NoteCreate).text
    return note_dict(notes.add_note(db.session, contact_id, current_user(), text)), 201
