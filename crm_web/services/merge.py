"""Possible duplicate leads: the list, dismissing a pair, and merging two leads into one.

A merge is one write transaction: every contact of the other lead moves to
the kept one, identifiers the kept lead lacks are filled in from the other
(the kept lead's value wins on a conflict), the other lead is deleted (its
recorded duplicate pairs go with it by cascade, after those with third
leads were carried over to the kept lead) and the audit row is written.

The preview hands out a token: a fingerprint of both leads (identifiers,
name, how many contacts and the newest one). The merge recomputes it with
both lead rows locked; a different one means an intake or another merge
touched a lead since the preview: Conflict, nothing written, look again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload

from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.messages import N_
from ..models import AuditEvent, Contact, Lead, LeadDuplicate, utcnow
from .audit import record
from .pagination import Page, paginate
from .tx import write_transaction

# What a merge combines: the identifiers (unique per lead) and the name.
FIELDS = ("external_id", "phone", "email", "name")
IDENTIFIERS = ("external_id", "phone", "email")
PREVIEW_CONTACTS = 50
_NO_SYNC = {"synchronize_session": False}


class AlreadyMerged(Conflict):
    """The lead was merged into `kept_id` (by someone else, or by a second click)."""

    code = "already_merged"

    def __init__(self, lead_id: int, kept_id: int) -> None:
        super().__init__(N_("Lead %(id)s was merged into lead %(kept)s meanwhile.", id=lead_id, kept=kept_id))
        self.lead_id = lead_id
        self.kept_id = kept_id


@dataclass(frozen=True)
class LeadState:
    id: int
    external_id: str | None
    phone: str | None
    email: str | None
    name: str | None
    created_at: datetime
    contact_count: int
    newest_contact_id: int | None

    def values(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in FIELDS}


@dataclass(frozen=True)
class MergePlan:
    """What merging `other` into `keep` would do, and the token to confirm it."""

    keep: LeadState
    other: LeadState
    result: dict[str, str | None]  # the kept lead's fields after the merge
    filled: dict[str, str]  # taken from the other lead
    dropped: dict[str, str]  # the other lead's values that lose to the kept lead's
    token: str
    contacts: list[Contact] = field(default_factory=list)  # the first PREVIEW_CONTACTS that move

    @property
    def total_contacts(self) -> int:
        return self.keep.contact_count + self.other.contact_count


@dataclass(frozen=True)
class MergeResult:
    kept_id: int
    merged_lead_id: int
    moved_contacts: int
    identifiers_before: dict[str, str | None]
    identifiers_after: dict[str, str | None]


@dataclass(frozen=True)
class DuplicatePair:
    id: int  # the LeadDuplicate row
    lead: Lead  # recorded as possibly the same client as...
    duplicate_of: Lead  # ...this one, the lead the intake chose
    lead_contacts: int
    duplicate_of_contacts: int
    seen_at: datetime


# --- the list ----------------------------------------------------------------


def list_duplicate_pairs(session: Session, page: int, per_page: int, after: int | None = None) -> Page:
    """Recorded pairs, most recently seen first; `after` = the last pair id of the previous page."""
    query = select(LeadDuplicate).order_by(LeadDuplicate.id.desc())
    keyset = LeadDuplicate.id < after if after is not None else None
    rows = paginate(session, query, page, per_page, id_column=LeadDuplicate.id, keyset=keyset,
                    estimate_key=("lead-duplicates",))
    lead_ids = {i for row in rows.items for i in (row.lead_id, row.duplicate_of_id)}
    leads = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(lead_ids)))}
    counts = _contact_counts(session, lead_ids)
    pairs = [
        DuplicatePair(
            row.id, leads[row.lead_id], leads[row.duplicate_of_id],
            counts.get(row.lead_id, 0), counts.get(row.duplicate_of_id, 0), row.created_at,
        )
        for row in rows.items
        # A merge that committed between the two reads took one of the leads.
        if row.lead_id in leads and row.duplicate_of_id in leads
    ]
    return replace(rows, items=pairs)


def _contact_counts(session: Session, lead_ids) -> dict[int, int]:
    if not lead_ids:
        return {}
    return dict(session.execute(
        select(Contact.lead_id, func.count(Contact.id))
        .where(Contact.lead_id.in_(lead_ids))
        .group_by(Contact.lead_id)
    ).all())


def dismiss_pair(session: Session, lead_id: int, other_id: int) -> int:
    """"Not a duplicate": forget the pair (either way round); how many records went.

    A later request naming both leads records the pair again: that is new evidence.
    """
    with write_transaction(session):
        removed = session.execute(
            delete(LeadDuplicate).where(_pair(lead_id, other_id)), execution_options=_NO_SYNC
        ).rowcount
        if not removed:
            raise NotFound(N_("No possible duplicate of lead %(a)s and lead %(b)s is recorded.",
                              a=lead_id, b=other_id))
        record(session, "lead.duplicate_dismissed", "lead", lead_id, {"other_lead_id": other_id})
    return removed


def _pair(a: int, b: int):
    return or_(
        (LeadDuplicate.lead_id == a) & (LeadDuplicate.duplicate_of_id == b),
        (LeadDuplicate.lead_id == b) & (LeadDuplicate.duplicate_of_id == a),
    )


# --- preview and merge -------------------------------------------------------


def preview_merge(session: Session, keep_id: int, other_id: int) -> MergePlan:
    """What the merge would do; writes nothing."""
    _refuse_self(keep_id, other_id)
    states = _states(session, keep_id, other_id)
    plan = _plan(states[keep_id], states[other_id])
    contacts = list(session.scalars(
        select(Contact)
        .where(Contact.lead_id == other_id)
        .options(joinedload(Contact.source), joinedload(Contact.operator))
        .order_by(Contact.id)
        .limit(PREVIEW_CONTACTS)
    ))
    return replace(plan, contacts=contacts)


def merge_leads(session: Session, keep_id: int, other_id: int, token: str | None = None) -> MergeResult:
    """Merge `other_id` into `keep_id` in one write transaction (see the module's docstring).

    `token`: the preview's; when given and the leads changed since, Conflict.
    """
    _refuse_self(keep_id, other_id)
    with write_transaction(session):
        # The third leads of the other's pairs get pairs with the kept lead:
        # locked with the two, all in id order, so that no intake deadlocks us.
        _lock_leads(session, keep_id, other_id, *_third_leads(session, keep_id, other_id))
        states = _states(session, keep_id, other_id)
        plan = _plan(states[keep_id], states[other_id])
        if token is not None and token != plan.token:
            raise Conflict(
                N_("Lead %(keep)s or lead %(other)s changed since the preview; look again.",
                   keep=keep_id, other=other_id),
                "changed",
            )
        moved = session.execute(
            update(Contact).where(Contact.lead_id == other_id).values(lead_id=keep_id),
            execution_options=_NO_SYNC,
        ).rowcount
        _carry_over_pairs(session, keep_id, other_id)
        # The identifiers are unique: the other lead (and with it its values)
        # goes first, then the kept lead takes what it lacked. contacts.lead_id
        # has no cascade: a contact that still pointed at it would fail the
        # delete rather than vanish.
        session.execute(delete(Lead).where(Lead.id == other_id), execution_options=_NO_SYNC)
        if plan.filled:
            session.execute(
                update(Lead).where(Lead.id == keep_id).values(**plan.filled), execution_options=_NO_SYNC
            )
        before = plan.keep.values()
        record(session, "lead.merged", "lead", keep_id, {
            "merged_lead_id": other_id,
            "moved_contacts": moved,
            "identifiers_before": before,
            "identifiers_after": plan.result,
            "merged_identifiers": plan.other.values(),
            "dropped": plan.dropped,
        })
    session.expire_all()
    return MergeResult(keep_id, other_id, moved, before, plan.result)


def _refuse_self(keep_id: int, other_id: int) -> None:
    if keep_id == other_id:
        raise ValidationError.single("other_id", N_("A lead cannot be merged into itself."))


def _lock_leads(session: Session, *lead_ids: int) -> None:
    """PostgreSQL: lock the lead rows, lowest id first (merges and intakes never deadlock).

    An intake inserting a contact of a locked lead waits (its foreign key
    check needs a share lock), and so does another merge of either lead.
    SQLite: the write transaction (BEGIN IMMEDIATE) already excludes every
    other writer.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for lead_id in sorted(lead_ids):
        session.execute(select(Lead.id).where(Lead.id == lead_id).with_for_update())


def _states(session: Session, keep_id: int, other_id: int) -> dict[int, LeadState]:
    of_lead = Contact.lead_id == Lead.id
    rows = session.execute(
        select(
            Lead.id, Lead.external_id, Lead.phone, Lead.email, Lead.name, Lead.created_at,
            select(func.count(Contact.id)).where(of_lead).correlate(Lead).scalar_subquery(),
            select(func.max(Contact.id)).where(of_lead).correlate(Lead).scalar_subquery(),
        ).where(Lead.id.in_((keep_id, other_id)))
    ).all()
    states = {row[0]: LeadState(*row) for row in rows}
    for lead_id in (keep_id, other_id):
        if lead_id not in states:
            _raise_missing(session, lead_id)
    return states


def _raise_missing(session: Session, lead_id: int) -> None:
    """Conflict when the lead was merged away (a stale page or a concurrent merge), else NotFound."""
    candidates = session.execute(
        select(AuditEvent.subject_id, AuditEvent.details).where(
            AuditEvent.action == "lead.merged",
            AuditEvent.details.like(f'%"merged_lead_id": {lead_id}%'),
        )
    ).all()
    for kept_id, details in candidates:
        if json.loads(details).get("merged_lead_id") == lead_id:
            raise AlreadyMerged(lead_id, kept_id)
    raise NotFound(N_("Lead %(id)s not found.", id=lead_id))


def _plan(keep: LeadState, other: LeadState) -> MergePlan:
    result, filled, dropped = {}, {}, {}
    for name in FIELDS:
        mine, theirs = getattr(keep, name), getattr(other, name)
        result[name] = mine if mine is not None else theirs
        if mine is None and theirs is not None:
            filled[name] = theirs
        elif theirs is not None and theirs != mine:
            dropped[name] = theirs
    fingerprint = json.dumps(
        [[s.id, *s.values().values(), s.contact_count, s.newest_contact_id] for s in (keep, other)]
    )
    token = hashlib.sha256(fingerprint.encode()).hexdigest()[:20]
    return MergePlan(keep, other, result, filled, dropped, token)


def _third_leads(session: Session, keep_id: int, other_id: int) -> set[int]:
    rows = session.execute(
        select(LeadDuplicate.lead_id, LeadDuplicate.duplicate_of_id).where(
            or_(LeadDuplicate.lead_id == other_id, LeadDuplicate.duplicate_of_id == other_id)
        )
    ).all()
    return {a if b == other_id else b for a, b in rows} - {keep_id, other_id}


def _carry_over_pairs(session: Session, keep_id: int, other_id: int) -> None:
    """Pairs of the other lead with third leads become pairs of the kept lead."""
    for third in sorted(_third_leads(session, keep_id, other_id)):
        known = session.scalar(select(LeadDuplicate.id).where(_pair(keep_id, third)).limit(1))
        if known is None:
            session.execute(
                insert(LeadDuplicate).values(lead_id=third, duplicate_of_id=keep_id, created_at=utcnow()),
                execution_options=_NO_SYNC,
            )
