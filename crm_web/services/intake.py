"""Registering a new contact: the webhook, the API and the intake form."""

from __future__ import annotations

import hmac
import json
import random
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .. import serializers
from ..domain.choice import Candidate
from ..domain.identifiers import ContactInput
from ..models import Contact, IdempotencyKey, Source, utcnow
from .assignment import choose_and_claim, source_for_intake
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
            found = source_for_intake(session, source_key)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise _StaleConnection() from exc
            raise
        if found is None:
            raise NotFound("Unknown or disabled source.")
        source_id, webhook_token, candidates = found
        if not hmac.compare_digest(token.encode(), webhook_token.encode()):
            raise WrongToken("Missing or wrong webhook token.")
        if data is None:
            return None
        return _register(session, source_id, data, rng, idempotency_key, candidates)


def _register(
    session: Session,
    source_id: int,
    data: ContactInput,
    rng: random.Random,
    idempotency_key: str | None,
    candidates: list[Candidate] | None = None,
) -> IntakeResult:
    if idempotency_key is not None:
        stored = _claim_idempotency_key(session, source_id, idempotency_key)
        if stored is not None:
            return IntakeResult(body=stored, replayed=True)
    lead_id, lead_created = resolve_lead(session, data.identifiers, data.name)
    claimed = choose_and_claim(session, source_id, rng, candidates)
    now = utcnow()
    contact = NewContact(
        id=0,
        lead_id=lead_id,
        source_id=source_id,
        operator_id=claimed.id if claimed else None,
        is_active=True,
        name=data.name,
        message=data.message,
        created_at=now,
        assigned_at=now if claimed else None,
    )
    # A plain INSERT ... RETURNING id: the ORM's unit of work would cost
    # more than the rest of the request's statements together.
    values = {f: getattr(contact, f) for f in _CONTACT_FIELDS}
    contact = replace(contact, id=session.connection().execute(_INSERT_CONTACT, values).scalar_one())
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


_CONTACT_FIELDS = (
    "lead_id", "source_id", "operator_id", "is_active", "name", "message", "created_at", "assigned_at"
)
_INSERT_CONTACT = insert(Contact.__table__).returning(Contact.__table__.c.id)
