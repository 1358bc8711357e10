"""Registering a new contact: the webhook, the API and the intake form."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import serializers
from ..domain.identifiers import ContactInput
from ..models import Contact, IdempotencyKey, Source, utcnow
from .assignment import choose_and_claim
from .errors import NotFound
from .leads import resolve_lead
from .sources import KEY_RE
from .tx import insert_ignoring_conflicts, write_transaction


@dataclass(frozen=True)
class IntakeResult:
    body: dict
    contact: Contact | None = None  # None when the answer was replayed
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
        if idempotency_key is not None:
            stored = _claim_idempotency_key(session, source.id, idempotency_key)
            if stored is not None:
                return IntakeResult(body=stored, replayed=True)
        lead_id, lead_created = resolve_lead(session, data.identifiers, data.name)
        claimed = choose_and_claim(session, source.id, rng)
        now = utcnow()
        contact = Contact(
            lead_id=lead_id,
            source_id=source.id,
            operator_id=claimed.id if claimed else None,
            name=data.name,
            message=data.message,
            created_at=now,
            assigned_at=now if claimed else None,
        )
        session.add(contact)
        session.flush()
        # The claimed operator's id and name are known: no reload query.
        body = serializers.intake_body(contact, lead_created, operator=claimed)
        if idempotency_key is not None:
            session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.source_id == source.id, IdempotencyKey.key == idempotency_key)
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


def active_source(session: Session, key: str) -> Source:
    if not KEY_RE.match(key):  # also keeps NUL bytes away from PostgreSQL
        raise NotFound("Unknown or disabled source.")
    source = session.scalar(select(Source).where(Source.key == key))
    if source is None or not source.is_active:
        raise NotFound("Unknown or disabled source.")
    return source
