"""Staff users, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..domain.identifiers import normalize_email
from ..models import ApiToken, Operator, Role, User, utcnow
from .errors import Conflict, Forbidden, NotFound, ValidationError
from .tx import write_transaction

TOKEN_PREFIX = "crm_"
MIN_PASSWORD = 8
# argon2id, memory-hard. "test" is still argon2id, with little memory, so
# that a test suite creating hundreds of users stays fast.
PROFILES = {
    "default": PasswordHasher(),
    "test": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}
_hasher = PROFILES["default"]
_dummy_hash: str | None = None


def use_password_profile(name: str) -> None:
    global _hasher, _dummy_hash
    _hasher = PROFILES[name]
    _dummy_hash = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Check a password; with no user, spend the same time on a dummy hash."""
    global _dummy_hash
    if user is None and _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a real password")
    try:
        return _hasher.verify(user.password_hash if user else _dummy_hash, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_user_by_email(session: Session, email: str) -> User | None:
    try:
        email = normalize_email(email)
    except ValueError:
        return None
    return session.scalar(select(User).where(User.email == email))


def create_user(
    session: Session, email: str, role: str, password: str, operator_id: int | None = None
) -> User:
    errors: dict[str, list[str]] = {}
    try:
        email = normalize_email(email)
    except ValueError as exc:
        errors["email"] = [str(exc)]
    if role not in {r.value for r in Role}:
        errors["role"] = ["Role must be supervisor or operator."]
    if len(password) < MIN_PASSWORD:
        errors["password"] = [f"At least {MIN_PASSWORD} characters."]
    if role == Role.OPERATOR.value and operator_id is None:
        errors["operator_id"] = ["An operator user must be linked to an operator."]
    if errors:
        raise ValidationError(errors, "Some fields are invalid.")
    with write_transaction(session):
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict(f"A user with email {email} already exists.", "duplicate_email")
        if operator_id is not None:
            operator = session.get(Operator, operator_id)
            if operator is None or operator.deleted_at is not None:
                raise ValidationError.single("operator_id", f"Operator {operator_id} does not exist.")
        user = User(
            email=email,
            role=role,
            password_hash=hash_password(password),
            operator_id=operator_id,
            created_at=utcnow(),
        )
        session.add(user)
    return user


def issue_token(
    session: Session, user: User, label: str | None = None, expires_at: datetime | None = None
) -> str:
    """Create an API token for the user; the plain token is returned only here."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_transaction(session):
        session.add(
            ApiToken(
                user_id=user.id,
                token_hash=token_hash(token),
                label=label,
                created_at=utcnow(),
                expires_at=expires_at,
            )
        )
    return token


def revoke_token(session: Session, token_id: int, user: User) -> None:
    with write_transaction(session):
        token = session.get(ApiToken, token_id)
        if token is None or (token.user_id != user.id and not user.is_supervisor):
            raise NotFound(f"Token {token_id} not found.")
        token.revoked_at = token.revoked_at or utcnow()


def user_for_token(session: Session, token: str) -> User | None:
    """The enabled user owning a valid, unexpired, unrevoked token."""
    row = session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == token_hash(token))
        .options(joinedload(ApiToken.user))
    )
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    if not row.user.is_enabled:
        return None
    return row.user


def require_user(session: Session, email: str) -> User:
    user = get_user_by_email(session, email)
    if user is None:
        raise NotFound(f"No user with email {email}.")
    return user


def all_users(session: Session) -> list[User]:
    """Every staff user with its linked operator, by email."""
    return list(
        session.scalars(select(User).options(joinedload(User.operator)).order_by(User.email, User.id))
    )


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return user


def set_user_enabled(session: Session, user_id: int, enabled: bool, actor: User) -> User:
    """Enable or disable sign-in and API tokens of a user; nobody may disable itself."""
    with write_transaction(session):
        user = get_user(session, user_id)
        # Disabling oneself would also lock out the last supervisor.
        if not enabled and user.id == actor.id:
            raise Forbidden("You cannot disable your own account.", "disable_self")
        user.is_enabled = enabled
    return user
