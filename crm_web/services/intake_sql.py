"""PostgreSQL's intake statements: the writes of an intake in one statement each.

Data-modifying WITH clauses let one statement claim an operator's capacity,
insert the contact only if the claim succeeded, and insert its audit row
(SQLite has no such WITH; it runs the steps one by one). Operator row
first, then the contact, as everywhere (see services/assignment.py).

`AT_ONCE_*` also find or insert the lead and run in autocommit, so most
webhook calls cost two statements and no BEGIN or COMMIT round trip: a new
client, and a returning one whose request only adds a contact (exactly one
lead matches, it already holds every identifier given and a name if one is
given). They must write all or nothing:
- the request needs more (no such single lead, or one that a transaction
  committed after the statement's snapshot): no claim, no contact, no row
  returned; the caller resolves the lead in a transaction;
- the drawn operator filled up meanwhile: the final SELECT divides by the
  number of audit rows written, zero, so the statement fails with
  division_by_zero (CLAIM_REFUSED) and a lead it inserted is rolled back
  with it; the caller draws again in a transaction. (A constant 1/0 would
  be folded, and raised, at planning.)
"""

from __future__ import annotations

from sqlalchemy import (
    Integer,
    String,
    Text,
    bindparam,
    exists,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..models import AuditEvent, Contact, Lead, Operator, UTCDateTime
from .assignment import HAS_CAPACITY
from .leads import leads_holding
from .prepared import Prepared

CLAIM_REFUSED = "22012"  # division_by_zero: see the module's docstring

_contacts = Contact.__table__
_operators = Operator.__table__
_leads = Lead.__table__
_audit = AuditEvent.__table__
_CONTACT_COLUMNS = [
    "lead_id", "source_id", "operator_id", "is_active", "name", "message", "created_at", "assigned_at",
]
_AUDIT_COLUMNS = [
    "created_at", "actor_user_id", "actor_label", "action", "subject_type", "subject_id", "details", "ip",
    "request_id",
]


def _contact_values(lead_id, operator_id, assigned_at):
    # Parameter names must not be column names of a table the statement
    # updates: SQLAlchemy would add them to the UPDATE's SET clause.
    return (
        lead_id,
        bindparam("new_source_id", type_=Integer),
        operator_id,
        true(),
        bindparam("new_name", type_=String),
        bindparam("new_message", type_=Text),
        bindparam("new_created_at", type_=UTCDateTime),
        assigned_at,
    )


def _audit_insert(contact_cte):
    """INSERT INTO audit_events ... SELECT ... FROM <contact cte> RETURNING subject_id."""
    return (
        insert(_audit)
        .from_select(
            _AUDIT_COLUMNS,
            select(
                bindparam("a_created_at", type_=UTCDateTime),
                bindparam("a_user_id", type_=Integer),
                bindparam("a_label", type_=String),
                bindparam("a_action", type_=String),
                literal("contact", String),
                contact_cte.c.id,
                bindparam("a_details", type_=Text),
                bindparam("a_ip", type_=String),
                bindparam("a_request_id", type_=String),
            ).select_from(contact_cte),
        )
        .returning(_audit.c.subject_id)
    )


def _claim(*conditions):
    return (
        update(_operators)
        .where(_operators.c.id == bindparam("chosen_id"), HAS_CAPACITY, *conditions)
        .values(active_load=_operators.c.active_load + 1)
        .returning(_operators.c.id)
        .cte("claimed")
    )


def _contact_insert(select_, name="new_contact"):
    return insert(_contacts).from_select(_CONTACT_COLUMNS, select_).returning(_contacts.c.id).cte(name)


# --- in the caller's transaction, for a lead already resolved ---------------------

_lead_param = bindparam("new_lead_id", type_=Integer)
_now = bindparam("new_created_at", type_=UTCDateTime)
_claimed = _claim()
CLAIM_INSERT_AUDIT = Prepared(
    _audit_insert(_contact_insert(select(*_contact_values(_lead_param, _claimed.c.id, _now))))
)
INSERT_QUEUED_AUDIT = Prepared(
    _audit_insert(_contact_insert(select(*_contact_values(_lead_param, null(), null()))))
)


# --- in autocommit, for a new client or one that only adds a contact --------------

_lead_ids = {
    name: bindparam(f"lead_{name}", type_=String) for name in ("external_id", "phone", "email")
}


def _new_lead():
    return (
        pg_insert(_leads)
        .values(
            **_lead_ids,
            name=bindparam("new_name", type_=String),
            created_at=bindparam("new_created_at", type_=UTCDateTime),
        )
        .on_conflict_do_nothing()
        .returning(_leads.c.id, true().label("created"))
        .cte("new_lead")
    )


def _lead(new_lead):
    """The new lead, or else the one lead the request matches if adding a
    contact is all it takes (domain/matching.py, `plan_match`: nothing to
    fill in, no other lead matched); no row otherwise."""
    matched = leads_holding(_lead_ids).cte("matched")
    given_are_held = [
        or_(value.is_(None), matched.c[name].is_not(None)) for name, value in _lead_ids.items()
    ]
    found = select(matched.c.id, false()).where(
        ~exists(select(new_lead.c.id)),
        select(func.count()).select_from(matched).scalar_subquery() == 1,
        *given_are_held,
        or_(bindparam("new_name", type_=String).is_(None), matched.c.name.is_not(None)),
    )
    return union_all(select(new_lead.c.id, new_lead.c.created), found).cte("lead")


def _all_or_nothing(lead, contact):
    """The lead's id, whether it is new, and the contact's id; a row only if
    there is a lead, and division_by_zero if there is but its contact was
    not written."""
    audit = _audit_insert(contact).cte("new_audit")
    written = select(func.count()).select_from(audit).scalar_subquery()
    return select(lead.c.id, lead.c.created, literal(1, Integer) // written).select_from(lead).add_columns(
        select(contact.c.id).scalar_subquery()
    )


def _at_once_assigned():
    lead = _lead(_new_lead())
    claimed = _claim(exists(select(lead.c.id)))
    contact = _contact_insert(
        select(*_contact_values(lead.c.id, claimed.c.id, _now)).select_from(lead, claimed)
    )
    return _all_or_nothing(lead, contact)


def _at_once_queued():
    lead = _lead(_new_lead())
    contact = _contact_insert(select(*_contact_values(lead.c.id, null(), null())).select_from(lead))
    return _all_or_nothing(lead, contact)


AT_ONCE_ASSIGNED = Prepared(_at_once_assigned())
AT_ONCE_QUEUED = Prepared(_at_once_queued())
