"""Manual assignment, closing and listing of contacts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from ..domain.errors import Conflict, Forbidden, NotFound, ValidationError
from ..domain.messages import N_
from ..domain.outcomes import SPAM, parse_close
from ..domain.search import SearchQuery
from ..models import Contact, Operator, User, utcnow
from .assignment import claim_capacity, lock_operator, release_capacity
from .audit import record
from .drain import mark_capacity_freed
from .notes import write_note
from .pagination import Page, paginate
from .search import contact_condition, newest_first_of_few
from .tx import write_transaction
from .validation import get_by_id

STATUSES = ("unassigned", "assigned", "closed")
_NO_SYNC = {"synchronize_session": False}


@dataclass(frozen=True)
class ContactFilters:
    status: str | None = None
    operator_id: int | None = None
    source_id: int | None = None
    lead_id: int | None = None
    utm_source: str | None = None  # exact, as stored (contract §2a)
    outcome: str | None = None  # one of OUTCOMES (closed contacts only)
    search: SearchQuery | None = None  # the search box (domain/search.py)


def get_contact(session: Session, contact_id: int) -> Contact:
    contact = session.scalar(
        select(Contact).where(Contact.id == contact_id).options(joinedload(Contact.operator))
    )
    if contact is None:
        raise NotFound(f"Contact {contact_id} not found.")
    return contact


def _filtered(query, filters: ContactFilters, session: Session):
    if filters.search is not None:
        query = query.where(contact_condition(session, filters.search))
    if filters.status == "unassigned":
        query = query.where(Contact.is_active.is_(True), Contact.operator_id.is_(None))
    elif filters.status == "assigned":
        query = query.where(Contact.is_active.is_(True), Contact.operator_id.is_not(None))
    elif filters.status == "closed":
        query = query.where(Contact.is_active.is_(False))
    for field in ("operator_id", "source_id", "lead_id", "utm_source", "outcome"):
        value = getattr(filters, field)
        if value is not None:
            query = query.where(getattr(Contact, field) == value)
    return query


def list_contacts(
    session: Session, filters: ContactFilters, page: int, per_page: int, after: int | None = None
) -> Page:
    """Newest first, except the unassigned queue, which is oldest first.

    `after`: the id of the last contact of the previous page; the page then
    starts right after it in the list's order (a keyset page: as fast deep
    in a million contacts as on page 1).
    """
    keyset = None
    if filters.status == "unassigned":
        order = (Contact.created_at.asc(), Contact.id.asc())
        if after is not None:
            pivot = select(Contact.created_at).where(Contact.id == after).scalar_subquery()
            keyset = or_(
                Contact.created_at > pivot, and_(Contact.created_at == pivot, Contact.id > after)
            )
    else:
        order = (Contact.id.desc(),)
        if after is not None:
            keyset = Contact.id < after
    # A list page shows each row's operator, source and lead: load them with
    # the page (many-to-one joins), never one query per row.
    query = (
        _filtered(select(Contact), filters, session)
        .options(joinedload(Contact.operator), joinedload(Contact.source), joinedload(Contact.lead))
        .order_by(*order)
    )
    searched_newest_first = filters.search is not None and filters.status != "unassigned"
    return paginate(
        session, query, page, per_page,
        id_column=Contact.id, keyset=keyset, estimate_key=("contacts", filters),
        few_order=newest_first_of_few(session, Contact.id) if searched_newest_first else None,
    )


def _live_operator(session: Session, operator_id: int) -> Operator:
    operator = get_by_id(session, Operator, operator_id)
    if operator is None or operator.deleted_at is not None:
        raise ValidationError.single("operator_id", N_("Operator %(id)s does not exist.", id=operator_id))
    return operator


def assign_manually(session: Session, contact_id: int, operator_id: int, actor: User) -> Contact:
    """Give an unassigned contact to an active operator with free capacity."""
    if not actor.is_supervisor and actor.operator_id != operator_id:
        raise Forbidden("Operators may take contacts only for themselves.")
    with write_transaction(session):
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound(f"Contact {contact_id} not found.")
        operator = _live_operator(session, operator_id)
        if contact.status != "unassigned":
            raise Conflict(
                N_("Contact %(id)s is %(status)s, not unassigned.", id=contact_id, status=contact.status),
                "not_unassigned",
            )
        if not operator.is_active:
            raise Conflict(N_("Operator %(name)s is not active.", name=operator.name), "operator_inactive")
        if claim_capacity(session.connection(), operator_id) is None:
            raise Conflict(
                N_("Operator %(name)s has no free capacity.", name=operator.name), "operator_at_capacity"
            )
        taken = session.execute(
            update(Contact)
            .where(Contact.id == contact_id, Contact.is_active.is_(True), Contact.operator_id.is_(None))
            .values(operator_id=operator_id, assigned_at=utcnow(), first_opened_at=None),
            execution_options=_NO_SYNC,
        ).rowcount
        if taken != 1:
            # Someone else assigned or closed it meanwhile; the rollback
            # also returns the capacity claimed above.
            raise Conflict(N_("Contact %(id)s was taken meanwhile.", id=contact_id), "not_unassigned")
        session.refresh(contact)
        session.refresh(operator)
        record(session, "contact.assigned", "contact", contact_id, {
            "mode": "manual",
            "operator_id": operator_id,
            "operator_name": operator.name,
            "load_before": operator.active_load - 1,  # read back after our own claim
            "max_load": operator.max_load,
        })
    return contact


def close_contact(
    session: Session, contact_id: int, actor: User, outcome: object = None, note: object = None
) -> Contact:
    """Close an active contact with an outcome (default done) and an optional note, in one
    transaction, freeing one unit of its operator's load."""
    return close_contact_and_others(session, contact_id, actor, outcome, note, same_source=False)[0]


def close_contact_and_others(
    session: Session, contact_id: int, actor: User, outcome: object = None, note: object = None,
    *, same_source: bool = False,
) -> tuple[Contact, list[int]]:
    """`close_contact`; with `same_source` (outcome spam only) also close the lead's other open
    contacts from the same source as spam, in the same transaction. The contact, and the ids of the
    others closed."""
    outcome, note = parse_close(outcome, note)
    if same_source and outcome != SPAM:
        raise ValidationError.single(
            "also_close_same_source", N_("Only a contact closed as spam closes the others too.")
        )
    with write_transaction(session):
        contact = get_by_id(session, Contact, contact_id)
        if contact is None:
            raise NotFound(f"Contact {contact_id} not found.")
        if not _may_close(actor, contact):
            raise Forbidden("Operators may close only their own contacts.")
        if not contact.is_active:
            raise Conflict(N_("Contact %(id)s is already closed.", id=contact_id), "already_closed")
        others = _same_source_open(session, contact, actor) if same_source else []
        _lock_operators(session, [contact, *others])
        if not _close(session, contact, outcome, locked=True):
            raise Conflict(N_("Contact %(id)s changed meanwhile; try again.", id=contact_id), "changed")
        if note is not None:
            write_note(session, contact_id, actor, note)
        closed = _close_as_spam(session, others, contact.id)
    return contact, closed


def close_same_source_as_spam(session: Session, contact_id: int, actor: User) -> list[int]:
    """After closing a contact as spam: close the lead's other open contacts from the same source as
    spam too (those `actor` may close), each audited and freeing its operator's load. Their ids."""
    with write_transaction(session):
        contact = get_by_id(session, Contact, contact_id)
        if contact is None:
            raise NotFound(f"Contact {contact_id} not found.")
        if contact.outcome != SPAM:
            raise Conflict(N_("Contact %(id)s was not closed as spam.", id=contact_id), "not_spam")
        others = _same_source_open(session, contact, actor)
        _lock_operators(session, others)
        return _close_as_spam(session, others, contact.id)


def same_source_open(session: Session, contact: Contact, actor: User) -> int:
    """How many other open contacts of the contact's lead from its source `actor` may close (the offer
    after closing as spam)."""
    others = _same_source_others(contact, actor)
    return session.scalar(others.with_only_columns(func.count(Contact.id), maintain_column_froms=True)) or 0


def _may_close(actor: User, contact: Contact) -> bool:
    own = contact.operator_id is not None and contact.operator_id == actor.operator_id
    return actor.is_supervisor or own


def _same_source_others(contact: Contact, actor: User):
    query = select(Contact).where(
        Contact.lead_id == contact.lead_id,
        Contact.source_id == contact.source_id,
        Contact.is_active.is_(True),
        Contact.id != contact.id,
    )
    if not actor.is_supervisor:  # an operator user closes only its own contacts
        query = query.where(Contact.operator_id == actor.operator_id, Contact.operator_id.is_not(None))
    return query


def _same_source_open(session: Session, contact: Contact, actor: User) -> list[Contact]:
    return list(session.scalars(_same_source_others(contact, actor).order_by(Contact.id)))


def _lock_operators(session: Session, contacts: list[Contact]) -> None:
    """Lock the contacts' operators' rows in id order, so that two closings of several never deadlock."""
    for operator_id in sorted({c.operator_id for c in contacts if c.operator_id is not None}):
        lock_operator(session, operator_id)


def _close_as_spam(session: Session, others: list[Contact], contact_id: int) -> list[int]:
    """Close the others (their operators locked) as spam; one that changed meanwhile (closed,
    reassigned) is left as it is now. The ids closed."""
    details = {"same_source_as": contact_id}
    return [other.id for other in others if _close(session, other, SPAM, details, locked=True)]


def _close(
    session: Session, contact: Contact, outcome: str, details: dict | None = None, locked: bool = False
) -> bool:
    """Close one active contact inside a write transaction: its outcome, one unit of its operator's
    load freed, an audit row. False (nothing written) when it is no longer open with that operator.
    `locked`: the caller holds the operator's row lock already."""
    operator_id = contact.operator_id
    if operator_id is not None and not locked:
        lock_operator(session, operator_id)
    owner = Contact.operator_id.is_(None) if operator_id is None else Contact.operator_id == operator_id
    closed = session.execute(
        update(Contact)
        .where(Contact.id == contact.id, Contact.is_active.is_(True), owner)
        .values(is_active=False, closed_at=utcnow(), outcome=outcome),
        execution_options=_NO_SYNC,
    ).rowcount
    if closed != 1:
        return False
    if operator_id is not None:
        release_capacity(session, operator_id)
        mark_capacity_freed(session)
    session.refresh(contact)
    record(session, "contact.closed", "contact", contact.id, {
        "operator_id": operator_id,
        "operator_name": contact.operator.name if contact.operator else None,
        "outcome": outcome,
        **(details or {}),
    })
    return True
