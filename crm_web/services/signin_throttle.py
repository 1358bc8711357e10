"""Failed sign-ins counted per account and per client address, in the database.

The counts live in the app's own database, so every worker and host sees
the same ones with no extra service (a plain `make run` included): an
attacker cannot spread guesses over the workers. A moving window: N
failures within the last M minutes, however they are spaced.

An attempt is counted before its password is checked and stays counted
unless it succeeds: of attempts racing on several workers, the k-th to
commit its row sees the k-1 before it, so parallel guesses cannot slip past
the limit either. A refused attempt is not counted; the refusals of one
lock-out window share a single audit row that counts them, so a flood
cannot grow the audit trail.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from ..models import AuditEvent, SigninFailure, SigninLockout, utcnow
from .audit import record_returning_id, to_json
from .tx import insert_ignoring_conflicts, write_transaction

# Rows of keys nobody tries again are swept this often (per process).
SWEEP_SECONDS = 60

_failures = SigninFailure.__table__
_lockouts = SigninLockout.__table__
_events = AuditEvent.__table__


def counter_key(kind: str, value: str) -> str:
    """The key of a counter: "account" and an email, or "address" and a client address."""
    # Hashed: keys stay short and safe whatever was typed into the form.
    return hashlib.sha256(f"{kind}:{value}".encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the oldest counted failure expires


@dataclass(frozen=True)
class _Counter:
    kind: str  # "account" or "address"
    key: str
    limit: int


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt: counted as a failure unless it succeeds."""

    verdict: Verdict
    counters: tuple[_Counter, ...] = ()
    row_ids: tuple[int, ...] = ()  # its rows in signin_failures (none once refused)
    refused_by: _Counter | None = None  # the counter whose lock-out this is
    until: datetime | None = None  # when that counter lets the next attempt through

    @property
    def allowed(self) -> bool:
        return self.verdict.allowed


class SigninThrottle:
    """At most `max_account` failures per account and `max_address` per address in `minutes`.

    A limit of 0 turns that counter off.
    """

    def __init__(self, max_account: int, max_address: int, minutes: int) -> None:
        self.max_account = max_account
        self.max_address = max_address
        self.window = timedelta(minutes=max(1, minutes))
        self._swept_at = -math.inf

    def _counters(self, account: str, address: str | None) -> tuple[_Counter, ...]:
        counters = []
        if self.max_account > 0:
            account_key = counter_key("account", account.strip().lower())
            counters.append(_Counter("account", account_key, self.max_account))
        if self.max_address > 0 and address:
            counters.append(_Counter("address", counter_key("address", address), self.max_address))
        return tuple(counters)

    def attempt(self, session: Session, account: str, address: str | None) -> Attempt:
        """Count an attempt at this account from this address, or refuse it (then it is not counted)."""
        counters = self._counters(account, address)
        if not counters:
            return Attempt(Verdict(True))
        now = utcnow()
        cutoff = now - self.window
        with write_transaction(session):
            self._prune(session, [c.key for c in counters], cutoff, now)
            row_ids = tuple(
                session.execute(
                    insert(_failures).values(key=c.key, created_at=now).returning(_failures.c.id)
                ).scalar_one()
                for c in counters
            )
        # Counted after the commit: a racing attempt that committed first is seen.
        waits = {}
        for counter in counters:
            # The limit-th most recent of the others: while it is in the window, the counter is full.
            oldest = session.scalar(
                select(_failures.c.created_at)
                .where(
                    _failures.c.key == counter.key,
                    _failures.c.created_at > cutoff,
                    _failures.c.id.not_in(row_ids),
                )
                .order_by(_failures.c.created_at.desc())
                .offset(counter.limit - 1)
                .limit(1)
            )
            if oldest is not None:
                waits[counter] = (oldest + self.window - now).total_seconds()
        if not waits:
            return Attempt(Verdict(True), counters, row_ids)
        # The account's lock-out when it is locked, else the address's.
        refused_by = next(c for c in counters if c in waits)
        return Attempt(
            Verdict(False, max(1, math.ceil(max(waits.values())))),
            counters,
            row_ids,
            refused_by,
            now + timedelta(seconds=waits[refused_by]),
        )

    def succeeded(self, session: Session, attempt: Attempt) -> None:
        """The right password clears the account's failures; the address keeps its count."""
        if not attempt.counters:
            return
        with write_transaction(session):
            session.execute(delete(_failures).where(_failures.c.id.in_(attempt.row_ids)))
            for counter in attempt.counters:
                if counter.kind == "account":
                    session.execute(delete(_failures).where(_failures.c.key == counter.key))

    def refused(self, session: Session, attempt: Attempt, subject_id: int | None, email: str) -> None:
        """Take back the refused attempt's count and audit it.

        One "signin.failed" row per lock-out window (of the account, or of
        the address when only that is locked), whose details count the
        attempts; the next window gets a new row.
        """
        counter = attempt.refused_by
        now = utcnow()
        with write_transaction(session):
            session.execute(delete(_failures).where(_failures.c.id.in_(attempt.row_ids)))
            # Make sure the key's row exists, then lock it: racing refusals take turns here.
            session.execute(
                insert_ignoring_conflicts(session.connection(), _lockouts).values(
                    key=counter.key, until=now, attempts=0, audit_event_id=None
                )
            )
            lockout = session.execute(
                select(_lockouts.c.until, _lockouts.c.attempts, _lockouts.c.audit_event_id)
                .where(_lockouts.c.key == counter.key)
                .with_for_update()
            ).one()
            if lockout.until > now and lockout.audit_event_id is not None:
                attempts = lockout.attempts + 1
                details = session.scalar(
                    select(_events.c.details).where(_events.c.id == lockout.audit_event_id)
                )
                if details is not None:
                    session.execute(
                        update(_events)
                        .where(_events.c.id == lockout.audit_event_id)
                        .values(details=to_json({**json.loads(details), "attempts": attempts}))
                    )
                session.execute(
                    update(_lockouts).where(_lockouts.c.key == counter.key).values(attempts=attempts)
                )
                return
            event_id = record_returning_id(
                session,
                "signin.failed",
                "user",
                subject_id,
                {"email": email[:320], "reason": "throttled", "by": counter.kind, "attempts": 1},
            )
            session.execute(
                update(_lockouts)
                .where(_lockouts.c.key == counter.key)
                .values(until=attempt.until, attempts=1, audit_event_id=event_id)
            )

    def _prune(self, session: Session, keys: list[str], cutoff: datetime, now: datetime) -> None:
        """Drop failures that left the window: of these keys now, of every key once a minute."""
        session.execute(delete(_failures).where(_failures.c.key.in_(keys), _failures.c.created_at <= cutoff))
        if time.monotonic() - self._swept_at >= SWEEP_SECONDS:
            self._swept_at = time.monotonic()
            session.execute(delete(_failures).where(_failures.c.created_at <= cutoff))
            session.execute(delete(_lockouts).where(_lockouts.c.until <= now))
