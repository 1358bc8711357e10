"""PostgreSQL's intake statements: the writes of an intake in one statement each.

Data-modifying WITH clauses let one statement claim an operator's capacity,
insert the contact only if the claim succeeded, and insert its audit row
(SQLite has no such WITH; it runs the steps one by one). Operator row
first, then the contact, as everywhere (see services/assignment.py).

`NEW_CLIENT_*` also insert the lead and run in autocommit, so a new client
(most webhook calls) costs two statements and no BEGIN or COMMIT round
trip. They must write all or nothing:
- the lead already exists (ON CONFLICT DO NOTHING inserts no row): no
  claim, no contact, no row returned; the caller matches the lead in a
  transaction;
- the lead is new but the drawn operator filled up meanwhile: the final
  SELECT divides by the number of audit rows written, zero, so the
  statement fails with division_by_zero (CLAIM_REFUSED) and the lead it
  inserted is rolled back with it; the caller draws again in a
  transaction. (A constant 1/0 would be folded, and raised, at planning.)
"""

from __future__ import annotations

from sqlalchemy import (
    Integer,
    String,
    Text,
    bindparam,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..models import AuditEvent, Contact, Lead, Operator, UTCDateTime
from .assignment import HAS_CAPACITY
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


# --- in autocommit, for a client no lead holds yet --------------------------------


def _new_lead():
    return (
        pg_insert(_leads)
        .values(
            external_id=bindparam("lead_external_id", type_=String),
            phone=bindparam("lead_phone", type_=String),
            email=bindparam("lead_email", type_=String),
            name=bindparam("new_name", type_=String),
            created_at=bindparam("new_created_at", type_=UTCDateTime),
        )
        .on_conflict_do_nothing()
        .returning(_leads.c.id)
        .cte("new_lead")
    )


def _all_or_nothing(new_lead, contact):
    """The lead's and the contact's ids; a row only if the lead was inserted,
    and division_by_zero if it was but its contact was not."""
    audit = _audit_insert(contact).cte("new_audit")
    written = select(func.count()).select_from(audit).scalar_subquery()
    return select(new_lead.c.id, literal(1, Integer) // written).select_from(new_lead)


def _new_client_assigned():
    new_lead = _new_lead()
    claimed = _claim(exists(select(new_lead.c.id)))
    contact = _contact_insert(
        select(*_contact_values(new_lead.c.id, claimed.c.id, _now)).select_from(new_lead, claimed)
    )
    return _all_or_nothing(new_lead, contact).add_columns(select(contact.c.id).scalar_subquery())


def _new_client_queued():
    new_lead = _new_lead()
    contact = _contact_insert(select(*_contact_values(new_lead.c.id, null(), null())).select_from(new_lead))
    return _all_or_nothing(new_lead, contact).add_columns(select(contact.c.id).scalar_subquery())


NEW_CLIENT_ASSIGNED = Prepared(_new_client_assigned())
NEW_CLIENT_QUEUED = Prepared(_new_client_queued())
