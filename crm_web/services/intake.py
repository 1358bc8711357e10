"""Registering a new contact: the webhook, the API and the intake form."""

from __future__ import annotations

import hmac
import json
import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .. import serializers
from ..domain.choice import draw_operator
from ..domain.idempotency import request_fingerprint
from ..domain.identifiers import ContactInput
from ..domain.messages import N_
from ..models import Contact, IdempotencyKey, Source, utcnow
from . import audit
from .assignment import Claimed, Decision, IntakeSource, choose_and_claim, source_for_intake
from .errors import NotFound, ServiceError, ValidationError
from .intake_sql import (
    AT_ONCE_ASSIGNED,
    AT_ONCE_QUEUED,
    CLAIM_INSERT_AUDIT,
    CLAIM_REFUSED,
    INSERT_QUEUED_AUDIT,
)
from .leads import resolve_lead
from .prepared import Prepared
from .sources import KEY_RE
from .tx import autocommit, insert_ignoring_conflicts, write_connection, write_transaction


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
    """Store the contact, match its lead and hand it to an operator, atomically.

    The staff intake (API and form). A disabled source takes nothing, as its
    webhook: ValidationError on `source_id`, nothing written.
    """
    try:
        with write_transaction(session):
            return _register_for_staff(session.connection(), source, data, rng, idempotency_key)
    except DBAPIError as exc:
        if not _retryable(exc):
            raise
    with write_transaction(session):  # matched again, now without the merged-away lead
        return _register_for_staff(session.connection(), source, data, rng, idempotency_key)


def _register_for_staff(
    conn: Connection, source: Source, data: ContactInput, rng: random.Random, idempotency_key: str | None
) -> IntakeResult:
    # Read in the write transaction: the caller's Source may be older than a
    # supervisor's disabling it.
    row = _SOURCE_STATE.first(conn, {"source_id": source.id})
    if row is None:
        raise NotFound(f"Source {source.id} not found.")
    is_active, name = row
    if not is_active:
        raise ValidationError.single(
            "source_id", N_("Source %(name)s is disabled: it takes no contacts.", name=name)
        )
    return _register(conn, source.id, data, rng, idempotency_key)


def _retryable(exc: DBAPIError) -> bool:
    """Nothing was written and a second try can succeed: the matched lead was
    merged away (foreign key, 23503), or PostgreSQL chose this transaction
    as a deadlock victim (40P01) or serialization failure (40001)."""
    return getattr(exc.orig, "sqlstate", None) in ("23503", "40P01", "40001")


class WrongToken(ServiceError):
    code = "unauthorized"


class IdempotencyKeyReused(ValidationError):
    """The Idempotency-Key was first used with another request (a different fingerprint)."""

    def __init__(self) -> None:
        # Says nothing of the first request: source tokens are public, keys guessable.
        message = N_("This Idempotency-Key was already used for a different request; use a new key.")
        super().__init__({"Idempotency-Key": [message]}, message)


class _StaleConnection(Exception):
    """The pooled connection had died before this request's first statement."""


def webhook_intake(
    engine: Engine,
    source_key: str,
    token: str,
    data: ContactInput | None,
    rng: random.Random,
    idempotency_key: str | None = None,
) -> IntakeResult | None:
    """The webhook: source, token, then the contact, atomically.

    Raises NotFound (unknown or disabled source), WrongToken, or
    IdempotencyKeyReused (the key came first with another request). `data` is
    None when the request itself was refused (its error is the caller's to
    answer once the source and token have passed): nothing is written and
    None is returned. It runs on a Core connection of its own, not the ORM
    session, and reads the source together with its eligible operators.

    On PostgreSQL a new client, and a returning one that only adds a
    contact (most calls), is stored in two autocommit statements, no BEGIN
    or COMMIT (`_at_once`); anything else is one write transaction, which
    on SQLite starts with BEGIN IMMEDIATE.

    A pooled connection found dead at the first statement (the database was
    restarted; the pool does not ping) is retried once on a new one:
    nothing had been written. So is a lead merged away between its match
    and the contact's insert.
    """
    if not KEY_RE.match(source_key):  # also keeps NUL bytes away from PostgreSQL
        raise NotFound("Unknown or disabled source.")
    at_once = engine.dialect.name == "postgresql" and data is not None and idempotency_key is None
    attempt = _at_once if at_once else _webhook_transaction
    try:
        return attempt(engine, source_key, token, data, rng, idempotency_key)
    except _StaleConnection:
        pass
    except DBAPIError as exc:
        if not _retryable(exc):
            raise
    return attempt(engine, source_key, token, data, rng, idempotency_key)


def _authorised_source(conn: Connection, source_key: str, token: str) -> IntakeSource:
    try:
        source = source_for_intake(conn, source_key)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise _StaleConnection() from exc
        raise
    if source is None:
        raise NotFound("Unknown or disabled source.")
    if not hmac.compare_digest(token.encode(), source.webhook_token.encode()):
        raise WrongToken("Missing or wrong webhook token.")
    return source


def _webhook_transaction(engine, source_key, token, data, rng, idempotency_key) -> IntakeResult | None:
    with write_connection(engine) as conn:
        source = _authorised_source(conn, source_key, token)
        if data is None:
            return None
        return _register(conn, source.id, data, rng, idempotency_key, source)


def _at_once(engine, source_key, token, data: ContactInput, rng, _no_key=None) -> IntakeResult:
    """PostgreSQL, in autocommit: the source, then lead, claim, contact and
    audit row in one statement (services/intake_sql.py), which writes all
    or nothing. It writes nothing when the lead needs more than a new
    contact (filling in, several leads matched); that, and a drawn operator
    that filled up meanwhile, goes through the transaction, on the same
    connection.

    Reading the source and candidates before the statement instead of in it
    changes nothing: at READ COMMITTED every statement sees the latest
    commits anyway, and the claim re-checks capacity.
    """
    with engine.connect() as conn:
        with autocommit(conn):
            source = _authorised_source(conn, source_key, token)
            try:
                stored = _store_at_once(conn, source, data, rng)
                if stored is not None:
                    return stored
                lead_exists = True
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != CLAIM_REFUSED:
                    raise
                lead_exists = False
        with conn.begin():
            if not lead_exists:  # the refused operator must not be drawn again
                source = _authorised_source(conn, source_key, token)
            return _register(conn, source.id, data, rng, None, source, lead_exists=lead_exists)


def _store_at_once(conn, source: IntakeSource, data: ContactInput, rng) -> IntakeResult | None:
    """One statement; None (nothing written) when the lead needs more than a contact."""
    now = utcnow()
    values = {"lead_id": None, "source_id": source.id, "name": data.name, "message": data.message,
              "created_at": now}
    decision = Decision(list(source.candidates), source.names)
    draw = draw_operator(source.candidates, rng)
    if draw is not None:
        decision.draws.append(draw)
        # Written as if the claim succeeds; the statement fails otherwise.
        decision.claimed = Claimed(draw.operator_id, source.names[draw.operator_id])
    action, details = decision.audit("auto")
    ids = data.identifiers
    params = {
        **{f"new_{k}": v for k, v in values.items() if k != "lead_id"},
        **_audit_params(now),
        "lead_external_id": ids.external_id,
        "lead_phone": ids.phone,
        "lead_email": ids.email,
        "a_action": action,
        "a_details": audit.to_json(details),
    }
    if draw is not None:
        params["chosen_id"] = draw.operator_id
    row = (AT_ONCE_ASSIGNED if draw is not None else AT_ONCE_QUEUED).first(conn, params)
    if row is None:
        return None
    values["lead_id"], lead_created, _, contact_id = row
    return _stored(contact_id, values, decision.claimed, lead_created=lead_created)


def _register(
    conn: Connection,
    source_id: int,
    data: ContactInput,
    rng: random.Random,
    idempotency_key: str | None,
    source: IntakeSource | None = None,
    lead_exists: bool = False,
) -> IntakeResult:
    if idempotency_key is not None:
        stored = _claim_idempotency_key(conn, source_id, idempotency_key, request_fingerprint(data))
        if stored is not None:
            return IntakeResult(body=stored, replayed=True)
    lead_id, lead_created = resolve_lead(conn, data.identifiers, data.name, insert_first=not lead_exists)
    result = _store_contact(conn, source_id, data, rng, lead_id, lead_created, source)
    if idempotency_key is not None:
        conn.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.source_id == source_id, IdempotencyKey.key == idempotency_key)
            .values(response_body=json.dumps(result.body))
        )
    return result


def _store_contact(
    conn: Connection,
    source_id: int,
    data: ContactInput,
    rng: random.Random,
    lead_id: int,
    lead_created: bool,
    source: IntakeSource | None,
) -> IntakeResult:
    """The contact of a resolved lead, handed to an operator or queued, with its audit row.

    On PostgreSQL (with the source's candidates read) every statement here
    writes all or nothing, so it may also run in autocommit.
    """
    now = utcnow()
    values = {
        "lead_id": lead_id,
        "source_id": source_id,
        "name": data.name,
        "message": data.message,
        "created_at": now,
    }
    if source is not None and conn.dialect.name == "postgresql":
        contact_id, claimed = _claim_and_insert(conn, source, rng, values)
    else:
        decision = choose_and_claim(
            conn, source_id, rng, *((source.candidates, source.names) if source else ())
        )
        claimed = decision.claimed
        contact_id = _insert_contact(conn, values, claimed)
        action, details = decision.audit("auto")
        audit.record(conn, action, "contact", contact_id, details)
    return _stored(contact_id, values, claimed, lead_created)


def _stored(contact_id: int, values: dict, claimed: Claimed | None, lead_created: bool) -> IntakeResult:
    """The answer for the contact just written, from what the intake wrote."""
    contact = NewContact(
        id=contact_id,
        operator_id=claimed.id if claimed else None,
        is_active=True,
        assigned_at=values["created_at"] if claimed else None,
        **values,
    )
    # The claimed operator's id and name are known: no reload query.
    body = serializers.intake_body(contact, lead_created, operator=claimed)
    return IntakeResult(body=body, contact=contact)


def _insert_contact(conn, values: dict, claimed: Claimed | None) -> int:
    """A plain INSERT ... RETURNING id: the ORM's unit of work would cost more
    than the rest of the request's statements together."""
    return _INSERT_CONTACT.scalar(
        conn,
        {
            **values,
            "operator_id": claimed.id if claimed else None,
            "is_active": True,
            "assigned_at": values["created_at"] if claimed else None,
        },
    )


def _claim_and_insert(
    conn, source: IntakeSource, rng: random.Random, values: dict
) -> tuple[int, Claimed | None]:
    """PostgreSQL: the capacity claim, the contact and its audit row in one statement.

    The same draw as choose_and_claim, but each try is `WITH claimed AS
    (UPDATE operators ... RETURNING id), contact AS (INSERT INTO contacts
    ... SELECT ... FROM claimed RETURNING id) INSERT INTO audit_events ...
    SELECT ... FROM contact`: the contact and its audit row are inserted
    only if the claim succeeded (operator row locked first, then the
    contact, as everywhere). If the drawn operator filled up meanwhile
    nothing is inserted and the draw is repeated among the rest; nobody
    left: an unassigned contact (and its "queued" audit row), again one
    statement.
    """
    decision = Decision(list(source.candidates), source.names)
    candidates = list(source.candidates)
    params = {f"new_{k}": v for k, v in values.items()}
    params.update(_audit_params(values["created_at"]))
    while candidates:
        draw = draw_operator(candidates, rng)
        if draw is None:
            break
        decision.draws.append(draw)
        # Written as if the claim succeeds; discarded with the row otherwise.
        decision.claimed = Claimed(draw.operator_id, source.names[draw.operator_id])
        action, details = decision.audit("auto")
        row = CLAIM_INSERT_AUDIT.first(
            conn,
            {
                **params,
                "chosen_id": draw.operator_id,
                "a_action": action,
                "a_details": audit.to_json(details),
            },
        )
        if row is not None:
            return row[0], decision.claimed
        decision.claimed = None
        candidates = [c for c in candidates if c.operator_id != draw.operator_id]
    action, details = decision.audit("auto")
    row = INSERT_QUEUED_AUDIT.first(
        conn, {**params, "a_action": action, "a_details": audit.to_json(details)}
    )
    return row[0], None


def _audit_params(now: datetime) -> dict:
    actor = audit.current_actor()
    return {
        "a_created_at": now,
        "a_user_id": actor.user_id,
        "a_label": actor.label[:400],
        "a_ip": actor.ip[:64] if actor.ip else None,
        "a_request_id": actor.request_id[:64] if actor.request_id else None,
    }


def _claim_idempotency_key(conn: Connection, source_id: int, key: str, fingerprint: str) -> dict | None:
    """Reserve the key for this request; if a committed request already holds
    it, that request's body, provided it was the same request (same
    fingerprint), else IdempotencyKeyReused.

    A second request with the key while the first's transaction is open
    waits for it in the INSERT (PostgreSQL: the unique index; SQLite: one
    writer at a time), so the row read here is committed, body and all.
    """
    inserted = conn.execute(
        insert_ignoring_conflicts(conn, IdempotencyKey)
        .values(source_id=source_id, key=key, fingerprint=fingerprint, created_at=utcnow())
        .returning(IdempotencyKey.id)
    ).scalar()
    if inserted is not None:
        return None
    row = conn.execute(
        select(IdempotencyKey.fingerprint, IdempotencyKey.response_body).where(
            IdempotencyKey.source_id == source_id, IdempotencyKey.key == key
        )
    ).first()
    if row is None:
        return None
    stored_fingerprint, body = row
    # NULL: stored before keys were bound to their request; nothing proves it is this one.
    if stored_fingerprint is None or not hmac.compare_digest(stored_fingerprint, fingerprint):
        raise IdempotencyKeyReused()
    return json.loads(body) if body else None


_INSERT_CONTACT = Prepared(insert(Contact.__table__).returning(Contact.__table__.c.id))
_SOURCE_STATE = Prepared(
    select(Source.__table__.c.is_active, Source.__table__.c.name).where(
        Source.__table__.c.id == bindparam("source_id")
    )
)
