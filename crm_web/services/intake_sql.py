"""PostgreSQL's one-statement intake (services/intake.py, the `at once` strategy).

One statement, run in autocommit, finds or inserts the lead, claims the
drawn operator's capacity, and inserts the contact and its audit row, using
data-modifying WITH clauses (with an idempotency key, the key too, in a
transaction that then stores the answer) (SQLite has none; there the intake runs the
steps one by one). It writes all of that or nothing, by construction:

- it first locks the drawn operator's row if the operator has room
  (`SELECT ... FOR UPDATE`, in the new lead's INSERT), and inserts a new
  lead only then: a lead it inserts always gets its contact, as the claim
  on the locked row cannot fail;
- the claim, the contact and the audit row are written only for a lead the
  request can simply be added to (a new one, or the one lead that holds
  every identifier given, and a name if one is given: domain/matching.py).

Locks are taken operator first, then lead (the insert's unique check), then
contact, as in the step-by-step intake, so the two never deadlock. It
answers one row, `(lead id, lead created, contact id, refused)`:

- a contact id: everything is written (and committed);
- `refused`: nothing was written because the drawn operator had no room
  left (it filled up since the candidates were read); the caller starts
  again, step by step, with the operators as they are now;
- otherwise nothing was written because the request needs more than a new
  contact (identifiers to fill in, a name to set, several leads matched, or
  a lead that another request committed meanwhile); the caller goes on step
  by step with the same candidates.
"""

from __future__ import annotations

from sqlalchemy import (
    Integer,
    String,
    Text,
    and_,
    bindparam,
    exists,
    false,
    func,
    insert,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..core.driver_sql import DriverStatement
from ..models import (
    AuditEvent,
    Contact,
    IdempotencyKey,
    JSONText,
    Lead,
    Operator,
    UTCDateTime,
)
from .assignment import HAS_CAPACITY
from .leads import leads_holding

_contacts = Contact.__table__
_operators = Operator.__table__
_leads = Lead.__table__
_audit = AuditEvent.__table__
_keys = IdempotencyKey.__table__
_CONTACT_COLUMNS = [
    "lead_id", "source_id", "operator_id", "is_active", "name", "message", "created_at", "assigned_at",
    "form_fields", "utm", "utm_source", "page_url", "warnings",
]
# Every column of the audit row but its subject, the contact written here,
# as parameters "a_<column>" (services/audit.py's `row`, see `audit_parameters`).
_AUDIT_COLUMNS = [
    "created_at", "actor_user_id", "actor_label", "action", "subject_type", "details", "ip", "request_id",
]
_AUDIT_TYPES = {"created_at": UTCDateTime, "actor_user_id": Integer, "details": Text}
# Parameter names must not be column names of a table the statement
# updates: SQLAlchemy would add them to the UPDATE's SET clause.
_now = bindparam("new_created_at", type_=UTCDateTime)
_name = bindparam("new_name", type_=String)
_chosen = bindparam("chosen_id", type_=Integer)
_lead_ids = {
    name: bindparam(f"lead_{name}", type_=String) for name in ("external_id", "phone", "email")
}


def audit_parameters(row: dict) -> dict:
    """The statement's audit parameters from an audit row (services/audit.py's `row`)."""
    return {f"a_{column}": row[column] for column in _AUDIT_COLUMNS}


def _room():
    """The drawn operator may take a contact: its row, locked until the statement commits."""
    return exists(
        select(_operators.c.id).where(_operators.c.id == _chosen, HAS_CAPACITY).with_for_update()
    )


def _new_lead(*conditions):
    values = select(*_lead_ids.values(), _name, _now).where(*conditions)
    return (
        pg_insert(_leads)
        .from_select([*_lead_ids, "name", "created_at"], values)
        .on_conflict_do_nothing()
        .returning(_leads.c.id, true().label("created"))
        .cte("new_lead")
    )


def _lead(new_lead, matched):
    """The new lead, or else the one lead the request matches if adding a
    contact is all it takes (domain/matching.py, `plan_match`: nothing to
    fill in, no other lead matched); no row otherwise."""
    given_are_held = [
        or_(value.is_(None), matched.c[name].is_not(None)) for name, value in _lead_ids.items()
    ]
    found = select(matched.c.id, false()).where(
        ~exists(select(new_lead.c.id)),
        select(func.count()).select_from(matched).scalar_subquery() == 1,
        *given_are_held,
        or_(_name.is_(None), matched.c.name.is_not(None)),
    )
    return union_all(select(new_lead.c.id, new_lead.c.created), found).cte("lead")


def _contact(lead, operator_id, assigned_at, claimed=None):
    values = select(
        lead.c.id,
        bindparam("new_source_id", type_=Integer),
        operator_id,
        true(),
        _name,
        bindparam("new_message", type_=Text),
        _now,
        assigned_at,
        bindparam("new_form_fields", type_=JSONText),
        bindparam("new_utm", type_=JSONText),
        bindparam("new_utm_source", type_=String),
        bindparam("new_page_url", type_=String),
        bindparam("new_warnings", type_=JSONText),
    ).select_from(lead.join(claimed, true()) if claimed is not None else lead)
    contact = insert(_contacts).from_select(_CONTACT_COLUMNS, values).returning(_contacts.c.id)
    return contact.cte("new_contact")


def _with_contact(table, prefix, columns, types, contact_column, returned, contact, name):
    """INSERT INTO table: the parameters "<prefix>_<column>" and the new contact's id, as a WITH clause."""
    values = select(
        *(bindparam(f"{prefix}_{column}", type_=types.get(column, String)) for column in columns),
        contact.c.id,
    ).select_from(contact)
    return insert(table).from_select([*columns, contact_column], values).returning(returned).cte(name)


def _key(contact):
    """The request's Idempotency-Key (or sender's delivery id), taken with the
    contact: no ON CONFLICT, so a key another request holds makes the
    statement fail (23505) and write nothing; one whose first request is
    still open waits for it first."""
    values = select(
        bindparam("new_source_id", type_=Integer), bindparam("k_key", type_=String),
        bindparam("k_fingerprint", type_=String), _now,
    ).select_from(contact)
    columns = ["source_id", "key", "fingerprint", "created_at"]
    return insert(_keys).from_select(columns, values).returning(_keys.c.id).cte("new_key")


def _written(lead, contact, refused, keyed=False):
    """(lead id, lead created, contact id, refused[, key id]), the contact's id
    through its audit row, so that the audit row is part of the statement (and
    the key written with the contact)."""
    audit = _with_contact(
        _audit, "a", _AUDIT_COLUMNS, _AUDIT_TYPES, "subject_id", _audit.c.subject_id, contact, "new_audit"
    )
    columns = [
        select(lead.c.id).scalar_subquery(),
        select(lead.c.created).scalar_subquery(),
        select(audit.c.subject_id).scalar_subquery(),
        refused.label("refused"),
    ]
    if keyed:
        columns.append(select(_key(contact).c.id).scalar_subquery())
    return select(*columns)


def _assigned(keyed=False):
    new_lead = _new_lead(_room())
    matched = leads_holding(_lead_ids).cte("matched")
    lead = _lead(new_lead, matched)
    claimed = (
        update(_operators)
        .where(_operators.c.id == _chosen, HAS_CAPACITY, exists(select(lead.c.id)))
        .values(active_load=_operators.c.active_load + 1)
        .returning(_operators.c.id)
        .cte("claimed")
    )
    # No room: a lead to add the contact to but no claim, or a new client
    # whose lead was not inserted (or, rarely, was inserted meanwhile by another request).
    has_lead = exists(select(lead.c.id))
    refused = or_(
        and_(has_lead, ~exists(select(claimed.c.id))),
        and_(~has_lead, ~exists(select(matched.c.id))),
    )
    return _written(lead, _contact(lead, claimed.c.id, _now, claimed), refused, keyed)


def _queued(keyed=False):
    new_lead = _new_lead()
    lead = _lead(new_lead, leads_holding(_lead_ids).cte("matched"))
    return _written(lead, _contact(lead, null(), null()), false(), keyed)


# With a drawn operator, and for a source with nobody free (the contact queued).
# Run on psycopg's cursor (driver_sql.py): the answer is integers and booleans.
AT_ONCE_ASSIGNED = DriverStatement(_assigned())
AT_ONCE_QUEUED = DriverStatement(_queued())
# The same with the request's key, in a transaction that then stores the answer for repeats.
AT_ONCE_ASSIGNED_KEYED = DriverStatement(_assigned(keyed=True))
AT_ONCE_QUEUED_KEYED = DriverStatement(_queued(keyed=True))
