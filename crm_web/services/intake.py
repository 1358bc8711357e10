"""Registering a new contact: the one intake of the webhook, the API and the intake form.

`register_contact` is the entry point every caller uses. It reads the
source with its eligible operators (one statement), checks it (the
webhook's key and token, a staff member's choice of an active source), and
stores the contact by one of two strategies:

- step by step (`_store`, any database, any caller), in one write
  transaction: the Idempotency-Key, the capacity claim by the
  draw-claim-retry loop (assignment.draw_and_claim, one UPDATE per try),
  the lead (services/leads.py), the contact, its audit row (audit.record),
  the key's stored answer;
- at once (`_at_once`, PostgreSQL, a webhook request without an
  Idempotency-Key: most calls), in autocommit: one statement finds or
  inserts the lead, claims the drawn operator and writes the contact with
  its audit row (services/intake_sql.py; the row built by audit.row, as
  `record` builds its own). It writes all of that or nothing; when it writes
  nothing, the intake goes on step by step.

Operators are locked before leads, leads before contacts, in both. The
statements are SQLAlchemy Core, run with `Connection.execute` (each compiled
once, kept in the engine's statement cache); no ORM unit of work.
"""

from __future__ import annotations

import hmac
import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from ..domain.errors import NotFound, ServiceError, ValidationError
from ..domain.idempotency import request_fingerprint
from ..domain.identifiers import ContactInput
from ..domain.messages import N_
from ..models import Contact, IdempotencyKey, Source, utcnow
from . import audit
from .assignment import Claimed, Decision, IntakeSource, choose_and_claim, draw_and_claim, read_source
from .deliveries import Delivery
from .intake_sql import (
    AT_ONCE_ASSIGNED,
    AT_ONCE_ASSIGNED_KEYED,
    AT_ONCE_QUEUED,
    AT_ONCE_QUEUED_KEYED,
    audit_parameters,
)
from .leads import resolve_lead
from .sources import KEY_RE
from .tx import (
    autocommit,
    insert_ignoring_conflicts,
    inserted_id,
    write,
    write_connection,
    write_transaction,
)


# The records below are declarations; their likeness to other small frozen
# dataclasses (services/assignment.py, web/charts.py) is shape only.
@dataclass(frozen=True)
class WebhookSource:
    """A source as the webhook names it: its key, and the token the request brought."""

    key: str
    token: str


@dataclass(frozen=True)
class FormExtras:
    """What a site form sent besides the five fields (contract §2a); None when nothing."""

    form_fields: dict[str, str] | None = None
    utm: dict[str, str] | None = None
    page_url: str | None = None
    warnings: list[str] | None = None


NO_EXTRAS = FormExtras()


@dataclass(frozen=True)
class Submission:
    """A request as its caller read it once the source was known: what to store.

    `idempotency_key`: the Idempotency-Key header, or a sender's delivery id.
    `delivery`: the webhook's row of recent deliveries (the caller records it after the answer).
    """

    data: ContactInput
    idempotency_key: str | None = None
    extras: FormExtras = NO_EXTRAS
    delivery: Delivery | None = None


# The webhook reads its request only once the source is known (its format and
# field map decide how); None: nothing to store, the caller answers.
Read = Callable[[IntakeSource], Submission | None]


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
    form_fields: dict[str, str] | None = None
    utm: dict[str, str] | None = None
    page_url: str | None = None
    warnings: list[str] | None = None
    closed_at: datetime | None = None

    @property
    def status(self) -> str:
        return "assigned" if self.operator_id is not None else "unassigned"


@dataclass(frozen=True)
class IntakeResult:
    """The contact stored, or for a repeated Idempotency-Key the first request's answer."""

    contact: NewContact | None = None  # None when the answer was replayed
    lead_created: bool = False
    operator: Claimed | None = None  # the claimed operator's id and name: no reload to answer
    replayed_answer: dict | None = None  # what the caller's `answer` gave the first request
    answer: dict | None = None  # what the caller's `answer` gave this one, if it was stored

    @property
    def replayed(self) -> bool:
        return self.replayed_answer is not None


# The caller's answer to a stored contact (an HTTP body): stored with an
# Idempotency-Key, so that a repeat gets exactly the first answer.
Answer = Callable[[IntakeResult], dict]


class WrongToken(ServiceError):
    code = "unauthorized"


class IdempotencyKeyReused(ValidationError):
    """The Idempotency-Key was first used with another request (a different fingerprint)."""

    def __init__(self) -> None:
        # Says nothing of the first request: source tokens are public, keys guessable.
        message = N_("This Idempotency-Key was already used for a different request; use a new key.")
        super().__init__({"Idempotency-Key": [message]}, message)


@dataclass(frozen=True)
class _Request:
    source: Source | WebhookSource
    data: ContactInput | Read
    rng: random.Random
    answer: Answer | None


class _StaleConnection(Exception):
    """The pooled connection had died before this request's first statement."""


TRIES = 3  # a request's tries in all, when nothing was written (see register_contact)

# Why the one statement wrote nothing.
_REFUSED = object()  # the drawn operator had no room left
_NEEDS_MORE = object()  # the request needs more than a new contact
_KEYED = object()  # another request holds the idempotency key


def register_contact(
    where: Session | Engine,
    source: Source | WebhookSource,
    data: ContactInput | Read,
    rng: random.Random,
    answer: Answer | None = None,
) -> IntakeResult | None:
    """Store the contact, match its lead and hand it to an operator, atomically.

    `where`: the staff's ORM session (the API and the intake form), or the
    engine (the webhook: a connection of its own, no ORM session). `source`:
    the staff's `Source`, or the webhook's `WebhookSource`.

    Raises, before writing anything: for the webhook NotFound (unknown or
    disabled source) and WrongToken; for the staff NotFound (no such source)
    and ValidationError on `source_id` (a disabled source takes nothing);
    IdempotencyKeyReused (the key came first with another request). `data`:
    the staff's contact, or the webhook's `Read`, called with the source once
    it is read and checked; when it stores nothing (it refused the request,
    or answers it without a contact), nothing is written and None is
    returned. With an idempotency key, `answer` turns the result into the
    body stored for repeats of the request.

    For a source whose format is "vk" the request's token is not checked
    here: VK sends it as the body's `secret`, which the webhook's `Read`
    checks (contract §2a).

    Tried again (up to TRIES times in all), as nothing had been written,
    when the pooled connection is found dead at the first statement (the
    database was restarted; the pool does not ping), when the matched lead
    was merged away before the contact's insert, when another request gave
    the matched lead's missing phone or email to another lead meanwhile,
    and when PostgreSQL chose the transaction as a deadlock or
    serialization victim.
    """
    if isinstance(source, WebhookSource) and not KEY_RE.match(source.key):
        raise NotFound("Unknown or disabled source.")  # also keeps NUL bytes away from PostgreSQL
    request = _Request(source, data, rng, answer)
    at_once = isinstance(where, Engine) and where.dialect.name == "postgresql"
    strategy = _at_once if at_once else _step_by_step
    for _ in range(TRIES - 1):
        try:
            return strategy(where, request)
        except _StaleConnection:
            pass
        except DBAPIError as exc:
            if not _retryable(exc):
                raise
    return strategy(where, request)


def _retryable(exc: DBAPIError) -> bool:
    """Nothing was written and another try can succeed: the matched lead was
    merged away (foreign key, 23503), a lead took the identifier this
    request was filling in (unique, 23505: the others are ON CONFLICT or
    caught where they can happen), or PostgreSQL chose this transaction as
    a deadlock victim (40P01) or serialization failure (40001)."""
    return getattr(exc.orig, "sqlstate", None) in ("23503", "23505", "40P01", "40001")


@contextmanager
def _transaction(where: Session | Engine) -> Iterator[Connection]:
    """One write transaction (on SQLite from BEGIN IMMEDIATE): the session's, or a connection's own."""
    if isinstance(where, Engine):
        with write_connection(where) as conn:
            yield conn
    else:
        with write_transaction(where):
            yield where.connection()


def _step_by_step(where: Session | Engine, request: _Request) -> IntakeResult | None:
    with _transaction(where) as conn:
        source = _checked_source(conn, request.source)
        submission = _submission(request, source)
        if submission is None:
            return None
        return _store(conn, source, submission, request)


def _submission(request: _Request, source: IntakeSource) -> Submission | None:
    if isinstance(request.data, ContactInput):
        return Submission(request.data)
    submission = request.data(source)
    if submission is not None and submission.idempotency_key is not None and request.answer is None:
        raise TypeError("an idempotency key needs the answer to store")
    return submission


def _at_once(engine: Engine, request: _Request) -> IntakeResult:
    """PostgreSQL, in autocommit: the source, then one statement for the rest
    (with an idempotency key: the statement, key included, and then the
    answer for repeats, in one transaction).

    When that statement wrote nothing, the intake goes on step by step in a
    transaction on the same connection: with the same candidates when the
    request needs more than a new contact, or with the source read again
    when the drawn operator had no room left (so it is not drawn again).
    Reading the source and candidates before the statement instead of in it
    changes nothing: at READ COMMITTED every statement sees the latest
    commits anyway, and the claim re-checks capacity.
    """
    with engine.connect() as conn:
        with autocommit(conn):
            source = _checked_source(conn, request.source)
            submission = _submission(request, source)
            if submission is None:
                return None
            if submission.idempotency_key is None:
                outcome = _store_at_once(conn, source, submission, request.rng)
        if submission.idempotency_key is not None:
            outcome = _store_keyed_at_once(conn, source, submission, request)
        if isinstance(outcome, IntakeResult):
            return outcome
        with conn.begin():
            if outcome is _REFUSED:
                return _store(conn, _checked_source(conn, request.source), submission, request)
            return _store(conn, source, submission, request, lead_exists=outcome is _NEEDS_MORE)


def _store_keyed_at_once(
    conn: Connection, source: IntakeSource, submission: Submission, request: _Request
) -> IntakeResult | object:
    """The one statement with the request's key, and then its answer for repeats, in one
    transaction; _KEYED when another request holds the key (its answer is read step by step)."""
    try:
        with conn.begin():
            outcome = _store_at_once(conn, source, submission, request.rng, keyed=True)
            if isinstance(outcome, IntakeResult):
                outcome = _with_stored_answer(conn, source.id, submission.idempotency_key, outcome, request)
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != "23505":  # only the key is unique among its inserts
            raise
        return _KEYED
    return outcome


def _checked_source(conn: Connection, named: Source | WebhookSource) -> IntakeSource:
    """The source with its eligible operators, if the caller may use it."""
    webhook = isinstance(named, WebhookSource)
    try:
        source = read_source(conn, key=named.key) if webhook else read_source(conn, source_id=named.id)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise _StaleConnection() from exc
        raise
    if webhook:
        if source is None:  # unknown or disabled
            raise NotFound("Unknown or disabled source.")
        vk = source.form_format == "vk"  # its token comes in the body, checked by the webhook's Read
        if not vk and not hmac.compare_digest(named.token.encode(), source.webhook_token.encode()):
            raise WrongToken("Missing or wrong webhook token.")
        return source
    # Read in the write transaction: the caller's Source may be older than a
    # supervisor's disabling it.
    if source is None:
        raise NotFound(f"Source {named.id} not found.")
    if not source.is_active:
        raise ValidationError.single(
            "source_id", N_("Source %(name)s is disabled: it takes no contacts.", name=source.name)
        )
    return source


def _store(
    conn: Connection,
    source: IntakeSource,
    submission: Submission,
    request: _Request,
    lead_exists: bool = False,
) -> IntakeResult:
    """Step by step, in the caller's transaction: key, lead, claim, contact, audit row, answer."""
    data, key = submission.data, submission.idempotency_key
    if key is not None:
        stored = _claim_idempotency_key(conn, source.id, key, request_fingerprint(data))
        if stored is not None:
            return IntakeResult(replayed_answer=stored)
    # The operator first, then the lead, then the contact: the order in which
    # the one-statement strategy locks them too.
    decision = choose_and_claim(conn, source.candidates, source.names, request.rng)
    lead_id, lead_created = resolve_lead(conn, data.identifiers, data.name, insert_first=not lead_exists)
    values = _contact_values(source.id, data, lead_id, submission.extras)
    # A plain INSERT: the ORM's unit of work would cost more than the rest of
    # the request's statements together.
    contact_id = inserted_id(conn, _INSERT_CONTACT, _contact_row(values, decision.claimed))
    action, details = decision.audit("auto")
    audit.record(conn, action, "contact", contact_id, details)
    result = _stored(contact_id, values, decision.claimed, lead_created)
    if key is not None:
        result = _with_stored_answer(conn, source.id, key, result, request)
    return result


def _with_stored_answer(
    conn: Connection, source_id: int, key: str, result: IntakeResult, request: _Request
) -> IntakeResult:
    """The answer repeats of the request get, stored in its key's row in the request's
    transaction; the result carries it, so the caller answers with it as it is."""
    answer = request.answer(result)
    write(conn, _STORE_ANSWER, {"s_id": source_id, "s_key": key, "body": json.dumps(answer)})
    return replace(result, answer=answer)


def _store_at_once(
    conn: Connection, source: IntakeSource, submission: Submission, rng: random.Random, keyed: bool = False
) -> IntakeResult | object:
    """Lead, claim, contact and audit row in one statement (services/intake_sql.py).

    One try of the draw-claim loop. The result, or, when the statement wrote
    nothing, _REFUSED (the drawn operator had no room left) or _NEEDS_MORE.
    """
    data = submission.data
    values = _contact_values(source.id, data, None, submission.extras)
    ids = data.identifiers
    params = {
        "new_source_id": source.id,
        "new_name": data.name,
        "new_message": data.message,
        "new_created_at": values["created_at"],
        "new_form_fields": values["form_fields"],
        "new_utm": values["utm"],
        "new_utm_source": values["utm_source"],
        "new_page_url": values["page_url"],
        "new_warnings": values["warnings"],
        "lead_external_id": ids.external_id,
        "lead_phone": ids.phone,
        "lead_email": ids.email,
    }
    if keyed:
        params |= {"k_key": submission.idempotency_key, "k_fingerprint": request_fingerprint(data)}
    if keyed:
        assigned, queued = AT_ONCE_ASSIGNED_KEYED, AT_ONCE_QUEUED_KEYED
    else:
        assigned, queued = AT_ONCE_ASSIGNED, AT_ONCE_QUEUED
    written = []

    def write(decision: Decision) -> bool:
        # The audit row says what happens if the statement writes at all: it
        # writes the row with the contact, or nothing.
        action, details = decision.audit("auto")
        row = audit.row(action, "contact", None, details)
        if decision.claimed is None:
            statement, chosen = queued, {}
        else:
            statement, chosen = assigned, {"chosen_id": decision.claimed.id}
        written.append(statement.one(conn, {**params, **chosen, **audit_parameters(row)}))
        return True  # one try only: a refused claim is retried step by step

    decision = draw_and_claim(source.candidates, source.names, rng, write)
    if not written:  # nobody to draw: the contact waits in the queue
        write(decision)
    values["lead_id"], lead_created, contact_id, refused, *_key_id = written[0]
    if contact_id is None:
        return _REFUSED if refused else _NEEDS_MORE
    return _stored(contact_id, values, decision.claimed, lead_created)


def _contact_values(source_id: int, data: ContactInput, lead_id: int | None, extras: FormExtras) -> dict:
    return {
        "lead_id": lead_id,
        "source_id": source_id,
        "name": data.name,
        "message": data.message,
        "created_at": utcnow(),
        "form_fields": extras.form_fields or None,
        "utm": extras.utm or None,
        "utm_source": (extras.utm or {}).get("utm_source"),
        "page_url": extras.page_url,
        "warnings": extras.warnings or None,
    }


def _contact_row(values: dict, claimed: Claimed | None) -> dict:
    return {
        **values,
        "operator_id": claimed.id if claimed else None,
        "is_active": True,
        "assigned_at": values["created_at"] if claimed else None,
    }


def _stored(contact_id: int, values: dict, claimed: Claimed | None, lead_created: bool) -> IntakeResult:
    """The result for the contact just written, from what the intake wrote (no reload)."""
    contact = NewContact(
        id=contact_id,
        operator_id=claimed.id if claimed else None,
        is_active=True,
        assigned_at=values["created_at"] if claimed else None,
        **{name: value for name, value in values.items() if name != "utm_source"},
    )
    return IntakeResult(contact=contact, lead_created=lead_created, operator=claimed)


def _claim_idempotency_key(conn: Connection, source_id: int, key: str, fingerprint: str) -> dict | None:
    """Reserve the key for this request; if a committed request already holds
    it, that request's body, provided it was the same request (same
    fingerprint), else IdempotencyKeyReused.

    A second request with the key while the first's transaction is open
    waits for it in the INSERT (PostgreSQL: the unique index; SQLite: one
    writer at a time), so the row read here is committed, body and all.
    """
    values = {"source_id": source_id, "key": key, "fingerprint": fingerprint, "created_at": utcnow()}
    if inserted_id(conn, _insert_key(conn), values) is not None:
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


def _insert_key(conn: Connection):
    statement = _INSERT_KEY.get(conn.dialect.name)
    if statement is None:
        statement = _INSERT_KEY[conn.dialect.name] = insert_ignoring_conflicts(conn, _keys)
    return statement


_contacts = Contact.__table__
_INSERT_CONTACT = insert(_contacts)
_keys = IdempotencyKey.__table__
_INSERT_KEY: dict[str, object] = {}
_STORE_ANSWER = (
    update(_keys)
    .where(_keys.c.source_id == bindparam("s_id"), _keys.c.key == bindparam("s_key"))
    .values(response_body=bindparam("body"))
)
