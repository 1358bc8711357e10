"""Signed-in browsers as rows: a session ends when its row is gone.

The signed cookie alone cannot be taken back: a copy made before signing
out would stay valid until it expires. So the cookie carries a random token
and the page's user is found through the row that token names. Signing out
deletes the row; disabling a user or changing their password deletes all
of theirs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ..models import User, UserSession, utcnow
from .tx import write_transaction

# How often a session's last_seen_at is written: a page view per minute
# would otherwise be a write per minute per user.
TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class Lifetime:
    """A session ends after `idle` without a page view, or `longest` after sign-in."""

    idle: timedelta
    longest: timedelta


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(session: Session, user: User, lifetime: Lifetime) -> str:
    """A new session of `user`; returns the token for the cookie (kept nowhere else)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with write_transaction(session):
        # The user's expired sessions go as a new one starts: the table stays small.
        session.execute(delete(UserSession).where(UserSession.user_id == user.id, _expired(lifetime, now)))
        session.add(UserSession(user_id=user.id, token_hash=_hash(token), created_at=now, last_seen_at=now))
    return token


def _expired(lifetime: Lifetime, now: datetime):
    return or_(
        UserSession.last_seen_at <= now - lifetime.idle,
        UserSession.created_at <= now - lifetime.longest,
    )


def session_user(session: Session, user_id: int, token: str | None, lifetime: Lifetime) -> User | None:
    """The enabled user whose live session `token` names (and who is `user_id`), else None."""
    if not token:
        return None
    row = session.execute(
        select(User, UserSession.id, UserSession.created_at, UserSession.last_seen_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == _hash(token))
    ).first()
    if row is None:
        return None
    user, session_id, created_at, last_seen_at = row
    now = utcnow()
    alive = last_seen_at > now - lifetime.idle and created_at > now - lifetime.longest
    if user.id != user_id or not user.is_enabled or not alive:
        return None
    if last_seen_at <= now - TOUCH_EVERY:
        with write_transaction(session):
            session.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now))
    return user


def end_session(session: Session, token: str | None) -> None:
    """Sign this browser out for good (any copy of its cookie too)."""
    if not token:
        return
    with write_transaction(session):
        session.execute(delete(UserSession).where(UserSession.token_hash == _hash(token)))


def end_user_sessions(session: Session, user_id: int, keep_token: str | None = None) -> int:
    """Delete the user's sessions but the one `keep_token` names; inside the caller's transaction."""
    statement = delete(UserSession).where(UserSession.user_id == user_id)
    if keep_token:
        statement = statement.where(UserSession.token_hash != _hash(keep_token))
    return session.execute(statement).rowcount
