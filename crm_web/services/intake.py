"""Registering a new contact: the webhook, the API and the intake form."""

from __future__ import annotations

import hmac
import json
import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, bindparam, insert, select, true, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .. import serializers
from ..domain.choice import choose_operator
from ..domain.identifiers import ContactInput
from ..models import Contact, IdempotencyKey, Operator, Source, UTCDateTime, utcnow
from .assignment import HAS_CAPACITY, Claimed, IntakeSource, choose_and_claim, source_for_intake
from .errors import NotFound, ServiceError
from .leads import resolve_lead
from .sources import KEY_RE
from .tx import insert_ignoring_conflicts, write_transaction


@dataclass(frozen=True)
class NewContact:
    """The contact just stored, as the intake wrote it (no ORM object, no reload)."""

    id: int
    lead_id: int
    source_id: int
    operator_id: int | None
    is_active: bool
    name: str | None
    message: str | None
    created_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None = None

    @property
    def status(self) -> str:
        return "assigned" if self.operator_id is not None else "unassigned"


@dataclass(frozen=True)
class IntakeResult:
    body: dict
    contact: NewContact | None = None  # None when the answer was replayed
    replayed: bool = False

    @property
    def operator_available(self) -> bool:
        return bool(self.body["operator_available"])


def register_contact(
    session: Session,
    source: Source,
    data: ContactInput,
    rng: random.Random,
    idempotency_key: str | None = None,
) -> IntakeResult:
    """Store the contact, match its lead and hand it to an operator, atomically."""
    with write_transaction(session):
        return _register(session, source.id, data, rng, idempotency_key)


class WrongToken(ServiceError):
    code = "unauthorized"


class _StaleConnection(Exception):
    """The pooled connection had died before this request's first statement."""


def webhook_intake(
    session: Session,
    source_key: str,
    token: str,
    data: ContactInput | None,
    rng: random.Random,
    idempotency_key: str | None = None,
) -> IntakeResult | None:
    """The webhook in one write transaction: source, token, then the contact.

    Raises NotFound (unknown or disabled source) or WrongToken. `data` is
    None when the request itself was refused (its error is the caller's to
    answer once the source and token have passed): nothing is written and
    None is returned. One transaction instead of a read and then a write
    one saves a BEGIN/COMMIT round (and a pool checkout) per request, and
    the source is read together with its eligible operators.

    A pooled connection found dead at the first statement (the database was
    restarted; the pool does not ping) is retried once on a new one:
    nothing had been written.
    """
    if not KEY_RE.match(source_key):  # also keeps NUL bytes away from PostgreSQL
        raise NotFound("Unknown or disabled source.")
    try:
        return _webhook_transaction(session, source_key, token, data, rng, idempotency_key)
    except _StaleConnection:
        return _webhook_transaction(session, source_key, token, data, rng, idempotency_key)


def _webhook_transaction(session, source_key, token, data, rng, idempotency_key) -> IntakeResult | None:
    with write_transaction(session):
        try:
            source = source_for_intake(session, source_key)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise _StaleConnection() from exc
            raise
        if source is None:
            raise NotFound("Unknown or disabled source.")
        if not hmac.compare_digest(token.encode(), source.webhook_token.encode()):
            raise WrongToken("Missing or wrong webhook token.")
        if data is None:
            return None
        return _register(session, source.id, data, rng, idempotency_key, source)


def _register(
    session: Session,
    source_id: int,
    data: ContactInput,
    rng: random.Random,
    idempotency_key: str | None,
    source: IntakeSource | None = None,
) -> IntakeResult:
    if idempotency_key is not None:
        stored = _claim_idempotency_key(session, source_id, idempotency_key)
        if stored is not None:
            return IntakeResult(body=stored, replayed=True)
    lead_id, lead_created = resolve_lead(session, data.identifiers, data.name)
    now = utcnow()
    values = {
        "lead_id": lead_id,
        "source_id": source_id,
        "name": data.name,
        "message": data.message,
        "created_at": now,
    }
    conn = session.connection()
    if source is not None and conn.dialect.name == "postgresql":
        contact_id, claimed = _claim_and_insert(conn, source, rng, values)
    else:
        claimed = choose_and_claim(session, source_id, rng, source.candidates if source else None)
        contact_id = _insert_contact(conn, values, claimed)
    contact = NewContact(
        id=contact_id,
        operator_id=claimed.id if claimed else None,
        is_active=True,
        assigned_at=now if claimed else None,
        **values,
    )
    # The claimed operator's id and name are known: no reload query.
    body = serializers.intake_body(contact, lead_created, operator=claimed)
    if idempotency_key is not None:
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.source_id == source_id, IdempotencyKey.key == idempotency_key)
            .values(response_body=json.dumps(body)),
            execution_options={"synchronize_session": False},
        )
    return IntakeResult(body=body, contact=contact)


def _insert_contact(conn, values: dict, claimed: Claimed | None) -> int:
    """A plain INSERT ... RETURNING id: the ORM's unit of work would cost more
    than the rest of the request's statements together."""
    return conn.execute(
        _INSERT_CONTACT,
        {
            **values,
            "operator_id": claimed.id if claimed else None,
            "is_active": True,
            "assigned_at": values["created_at"] if claimed else None,
        },
    ).scalar_one()


def _claim_and_insert(
    conn, source: IntakeSource, rng: random.Random, values: dict
) -> tuple[int, Claimed | None]:
    """PostgreSQL: the capacity claim and the contact in one statement.

    The same draw as choose_and_claim, but each try is
    `WITH claimed AS (UPDATE operators ... RETURNING id) INSERT INTO contacts
    ... SELECT ... FROM claimed`: the contact is inserted only if the claim
    succeeded (operator row locked first, then the contact, as everywhere).
    If the drawn operator filled up meanwhile nothing is inserted and the
    draw is repeated among the rest; nobody left: an unassigned contact.
    """
    candidates = list(source.candidates)
    while candidates:
        operator_id = choose_operator(candidates, rng)
        if operator_id is None:
            break
        row = conn.execute(
            _CLAIM_AND_INSERT, {"chosen_id": operator_id, **{f"new_{k}": v for k, v in values.items()}}
        ).first()
        if row is not None:
            return row.id, Claimed(operator_id, source.names[operator_id])
        candidates = [c for c in candidates if c.operator_id != operator_id]
    return _insert_contact(conn, values, None), None


def _claim_idempotency_key(session: Session, source_id: int, key: str) -> dict | None:
    """Reserve the key; if a committed request already holds it, its body."""
    inserted = session.execute(
        insert_ignoring_conflicts(session, IdempotencyKey)
        .values(source_id=source_id, key=key, created_at=utcnow())
        .returning(IdempotencyKey.id)
    ).scalar()
    if inserted is not None:
        return None
    body = session.scalar(
        select(IdempotencyKey.response_body).where(
            IdempotencyKey.source_id == source_id, IdempotencyKey.key == key
        )
    )
    return json.loads(body) if body else None


_contacts = Contact.__table__
_operators = Operator.__table__
_INSERT_CONTACT = insert(_contacts).returning(_contacts.c.id)
_claimed = (
    update(_operators)
    .where(
        _operators.c.id == bindparam("chosen_id"),
        HAS_CAPACITY,
    )
    .values(active_load=_operators.c.active_load + 1)
    .returning(_operators.c.id)
    .cte("claimed")
)
_CLAIM_AND_INSERT = (
    insert(_contacts)
    .from_select(
        ["lead_id", "source_id", "operator_id", "is_active", "name", "message", "created_at", "assigned_at"],
        # Parameter names must not be column names of operators: SQLAlchemy
        # would add them to the UPDATE's SET clause.
        select(
            bindparam("new_lead_id", type_=Integer),
            bindparam("new_source_id", type_=Integer),
            _claimed.c.id,
            true(),
            bindparam("new_name", type_=String),
            bindparam("new_message", type_=Text),
            bindparam("new_created_at", type_=UTCDateTime),
            bindparam("new_created_at", type_=UTCDateTime),
        ),
    )
    .returning(_contacts.c.id)
)
