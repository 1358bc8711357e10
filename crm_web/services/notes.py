"""Notes staff write on contacts (contract §3): added (audited), listed, and a page's latest few."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ..domain.errors import NotFound
from ..domain.outcomes import parse_note
from ..models import Contact, ContactNote, User, utcnow
from .audit import record
from .pagination import Page, paginate
from .tx import write_transaction
from .validation import get_by_id


def add_note(session: Session, contact_id: int, actor: User, text: object) -> ContactNote:
    """Add a note to any contact (any staff user may, open or closed); the text is checked first."""
    text = parse_note(text)
    with write_transaction(session):
        _existing(session, contact_id)
        note = write_note(session, contact_id, actor, text)
    return note


def write_note(session: Session, contact_id: int, actor: User, text: str) -> ContactNote:
    """Store a checked note and its audit row, in the caller's write transaction."""
    note = ContactNote(
        contact_id=contact_id, author_id=actor.id, author=actor.email, text=text, created_at=utcnow()
    )
    session.add(note)
    session.flush()
    record(session, "contact.note_added", "contact", contact_id, {"note_id": note.id, "text": text})
    return note


def _existing(session: Session, contact_id: int) -> None:
    if get_by_id(session, Contact, contact_id) is None:
        raise NotFound(f"Contact {contact_id} not found.")


def list_notes(session: Session, contact_id: int, page: int, per_page: int) -> Page:
    """A page of the contact's notes, oldest first; NotFound for a missing contact."""
    _existing(session, contact_id)
    query = select(ContactNote).where(ContactNote.contact_id == contact_id).order_by(ContactNote.id)
    return paginate(session, query, page, per_page)


def notes_of(session: Session, contact_id: int) -> list[ContactNote]:
    """All of one contact's notes, oldest first (its page)."""
    return list(
        session.scalars(
            select(ContactNote).where(ContactNote.contact_id == contact_id).order_by(ContactNote.id)
        )
    )


@dataclass
class RecentNotes:
    count: int = 0
    latest: list[ContactNote] = field(default_factory=list)  # oldest first


def recent_notes(session: Session, contact_ids: list[int], per_contact: int = 3) -> dict[int, RecentNotes]:
    """For a list page: each contact's note count and its latest `per_contact` notes, in one query."""
    if not contact_ids:
        return {}
    ranked = (
        select(
            ContactNote,
            func.row_number()
            .over(partition_by=ContactNote.contact_id, order_by=ContactNote.id.desc())
            .label("rank"),
            func.count().over(partition_by=ContactNote.contact_id).label("total"),
        )
        .where(ContactNote.contact_id.in_(contact_ids))
        .subquery()
    )
    note = aliased(ContactNote, ranked)
    found: dict[int, RecentNotes] = {}
    rows = session.execute(
        select(note, ranked.c.total)
        .where(ranked.c.rank <= per_contact)
        .order_by(ranked.c.contact_id, ranked.c.id)
    )
    for row, total in rows:
        entry = found.setdefault(row.contact_id, RecentNotes(total))
        entry.latest.append(row)
    return found
