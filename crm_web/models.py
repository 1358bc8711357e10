"""Database models (SQLAlchemy 2.0 typed mappings)."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .core.extensions import db
from .domain.outcomes import OUTCOMES


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


# One encoder for every value: json.dumps with options builds a new one per call.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class JSONText(TypeDecorator):
    """A JSON object or list kept as text, the same on both databases; NULL reads as None."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else _COMPACT_JSON.encode(value)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


class Role(enum.StrEnum):
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"


class Lead(db.Model):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Normalised identifiers; each unique across leads (NULLs may repeat).
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="lead", order_by="Contact.created_at, Contact.id"
    )


class LeadDuplicate(db.Model):
    """`lead_id` may be the same client as `duplicate_of_id` (seen at intake)."""

    __tablename__ = "lead_duplicates"
    __table_args__ = (
        UniqueConstraint("lead_id", "duplicate_of_id"),
        CheckConstraint("lead_id <> duplicate_of_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    duplicate_of_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Source(db.Model):
    __tablename__ = "sources"
    __table_args__ = (
        CheckConstraint("form_format IN ('standard', 'site_form', 'vk')", name="form_format_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    # Shown to supervisors to paste into form builders, so kept retrievable.
    webhook_token: Mapped[str] = mapped_column(String(128))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # Site forms posting straight from browsers: origins allowed by CORS (one
    # per line; none by default) and where a plain HTML form post is sent
    # after success (303).
    allowed_origins: Mapped[str | None] = mapped_column(Text)
    thank_you_url: Mapped[str | None] = mapped_column(String(2048))
    # What its webhook receives (contract §2a): "standard", "site_form" or "vk"
    # (domain/form_reading.py, FORM_FORMATS); the field map {incoming: target}
    # wins over recognition; VK's confirmation string.
    form_format: Mapped[str] = mapped_column(String(16), default="standard", server_default="standard")
    field_map: Mapped[dict | None] = mapped_column(JSONText)
    vk_confirmation: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    rules: Mapped[list[Distribution]] = relationship(
        back_populates="source", cascade="all, delete-orphan", passive_deletes=True
    )


class Operator(db.Model):
    __tablename__ = "operators"
    __table_args__ = (
        CheckConstraint("max_load >= 0 AND max_load <= 10000", name="max_load_range"),
        CheckConstraint("active_load >= 0", name="active_load_non_negative"),
        # Names are unique among operators that are not deleted.
        Index(
            "uq_operators_name_live",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    max_load: Mapped[int] = mapped_column(Integer)
    # Number of this operator's active contacts, kept exact by every service
    # that opens, assigns, closes or releases a contact, in the same
    # transaction; the conditional UPDATE on it is the atomic capacity check.
    active_load: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Deleted operators stay so that closed contacts keep their history.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rules: Mapped[list[Distribution]] = relationship(
        back_populates="operator", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def load(self) -> int:
        return self.active_load


# Declared like LeadDuplicate (a pair of foreign keys, unique together): a declaration, not logic.
class Distribution(db.Model):
    """A rule: contacts of `source` may go to `operator` with `weight`."""

    __tablename__ = "source_operator_distributions"
    __table_args__ = (
        UniqueConstraint("source_id", "operator_id"),
        CheckConstraint("weight >= 0.01 AND weight <= 999.99", name="weight_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    weight: Mapped[Decimal] = mapped_column(Numeric(5, 2, asdecimal=True))

    source: Mapped[Source] = relationship(back_populates="rules")
    operator: Mapped[Operator] = relationship(back_populates="rules")


class Contact(db.Model):
    __tablename__ = "contacts"
    __table_args__ = (
        # The unassigned queue, oldest first.
        Index(
            "ix_contacts_queue",
            "created_at",
            "id",
            sqlite_where=text("is_active AND operator_id IS NULL"),
            postgresql_where=text("is_active AND operator_id IS NULL"),
        ),
        # An operator's active contacts ("my contacts", load verification).
        Index(
            "ix_contacts_operator_active",
            "operator_id",
            "created_at",
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        Index("ix_contacts_operator_id", "operator_id", "id"),
        Index("ix_contacts_source_id", "source_id", "id"),
        Index("ix_contacts_lead_id", "lead_id", "created_at"),
        Index("ix_contacts_created_at", "created_at"),
        # The team report: a period's assignments, with every column it reads (no table reads).
        Index(
            "ix_contacts_assigned_at", "assigned_at", "operator_id", "first_opened_at", "closed_at", "outcome"
        ),
        Index(
            "ix_contacts_utm_source",
            "utm_source",
            "id",
            sqlite_where=text("utm_source IS NOT NULL"),
            postgresql_where=text("utm_source IS NOT NULL"),
        ),
        # The outcome filter; closed contacts only, so the intake writes no entry to it.
        Index(
            "ix_contacts_outcome",
            "outcome",
            "id",
            sqlite_where=text("outcome IS NOT NULL"),
            postgresql_where=text("outcome IS NOT NULL"),
        ),
        # PostgreSQL's is the same rule with the list as one array constant (migration 0012).
        CheckConstraint(
            "outcome IS NULL OR outcome IN (" + ", ".join(f"'{o}'" for o in OUTCOMES) + ")",
            name="outcome_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # What this request itself carried (the lead keeps the normalised values).
    name: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the assigned operator first opened it (cleared on reassignment);
    # CRM_RETURN_AFTER_MINUTES returns contacts never opened in time.
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What a site form sent besides the five fields, its attribution, and what
    # could not be read (contract §2a); NULL reads as {} / [] in every answer.
    form_fields: Mapped[dict | None] = mapped_column(JSONText)
    utm: Mapped[dict | None] = mapped_column(JSONText)
    utm_source: Mapped[str | None] = mapped_column(String(255))  # utm["utm_source"], to filter by
    page_url: Mapped[str | None] = mapped_column(String(2048))
    warnings: Mapped[list | None] = mapped_column(JSONText)
    # How it ended (domain/outcomes.py OUTCOMES); NULL while active.
    outcome: Mapped[str | None] = mapped_column(String(16))

    lead: Mapped[Lead] = relationship(back_populates="contacts")
    source: Mapped[Source] = relationship()
    operator: Mapped[Operator | None] = relationship()

    @property
    def status(self) -> str:
        if not self.is_active:
            return "closed"
        return "assigned" if self.operator_id is not None else "unassigned"


class ContactNote(db.Model):
    """A note a staff member wrote on a contact (contract §3); never edited."""

    __tablename__ = "contact_notes"
    __table_args__ = (Index("ix_contact_notes_contact_id", "contact_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author: Mapped[str] = mapped_column(String(255))  # the author's email when written
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(UserMixin, db.Model):
    """A staff member who signs in to the pages or calls the API."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('supervisor', 'operator')", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL"), index=True
    )
    is_enabled: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # UI language chosen by the user ("en", "ru"); None: the browser's.
    locale: Mapped[str | None] = mapped_column(String(8))
    # IANA time zone chosen by the user ("Asia/Vladivostok"); None: the app's (CRM_TIMEZONE).
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Set by a supervisor's reset: the one-time password only opens the page
    # where the user chooses a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    operator: Mapped[Operator | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled users.
        return self.is_enabled

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR.value


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token: tokens are long random strings, so a fast hash
    # is safe and lets us look one up by its hash.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """A signed-in browser. The cookie carries the token; the row is the session.

    Deleting the row signs that browser out for good, whatever copy of the
    cookie exists; deleting a user's rows signs them out everywhere.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # SHA-256 of the cookie's token: the table alone opens no session.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigninFailure(db.Model):
    """One sign-in attempt, counted against an account and a client address.

    Written before the password is checked and deleted if it was right, so
    that attempts racing on several workers see each other.

    Kept in the database so that every worker and host counts the same
    failures; `key` is a hash of "account:<email>" or "address:<ip>".
    """

    __tablename__ = "signin_failures"
    __table_args__ = (Index("ix_signin_failures_key", "key", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigninLockout(db.Model):
    """The one audit row that counts the refused attempts of a lock-out window."""

    __tablename__ = "signin_lockouts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    audit_event_id: Mapped[int | None] = mapped_column(Integer)
    # The lock-out lasts until the oldest counted failure leaves the window.
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyKey(db.Model):
    """The first answer to a webhook call with an `Idempotency-Key`."""

    __tablename__ = "webhook_idempotency_keys"
    __table_args__ = (UniqueConstraint("source_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the normalised request: only a true repeat gets the stored answer.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(db.Model):
    """One recorded decision or change, written in the transaction that made it.

    `details` is JSON: before/after values of a change, or for an
    assignment the candidates with their loads and weights and the draw.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_subject", "subject_type", "subject_id", "id"),
        Index("ix_audit_events_action", "action", "id"),
        Index("ix_audit_events_actor", "actor_user_id", "id"),
        Index("ix_audit_events_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # No foreign key: the trail outlives deleted users.
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    # Who, readable: a user's email, "webhook <source key>", "api <email>", "system".
    actor_label: Mapped[str] = mapped_column(String(400))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))


class WebhookDelivery(db.Model):
    """A request to a source's webhook that passed the token check, as the source's
    page lists it (the last 50 per source are kept: services/deliveries.py)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_source_id", "source_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign keys: a log line, not worth a trigger per row (migration 0013).
    source_id: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[int] = mapped_column(SmallInteger)  # the answer's HTTP status
    contact_id: Mapped[int | None] = mapped_column(Integer)
    recognised: Mapped[dict | None] = mapped_column(JSONText)  # incoming field -> what it became
    kept: Mapped[list | None] = mapped_column(JSONText)  # fields kept as form_fields
    warnings: Mapped[list | None] = mapped_column(JSONText)
    body: Mapped[str | None] = mapped_column(Text)  # bounded, tokens and secrets masked
    # The stored contact, for its UTM marks and page address (read from COOKIES or a page address too).
    contact: Mapped[Contact | None] = relationship(
        primaryjoin="foreign(WebhookDelivery.contact_id) == Contact.id", lazy="raise", viewonly=True
    )
