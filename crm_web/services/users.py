"""Staff users, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..domain.errors import Conflict, Forbidden, NotFound, ValidationError
from ..domain.identifiers import normalize_email
from ..domain.messages import N_
from ..models import ApiToken, Operator, Role, User, utcnow
from .audit import changes, record
from .signin_throttle import SigninThrottle
from .tx import write_transaction
from .user_sessions import end_user_sessions
from .validation import get_by_id

TOKEN_PREFIX = "crm_"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
ONE_TIME_PASSWORD_BYTES = 9  # 12 characters of URL-safe base64
MAX_TOKEN_LABEL = 120
MAX_TOKEN_DAYS = 3650
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
        errors["role"] = [N_("Role must be supervisor or operator.")]
    # Only the length here: the email check is for passwords users choose themselves.
    password_errors = password_problems(password)
    if password_errors:
        errors["password"] = password_errors
    if role == Role.OPERATOR.value and operator_id is None:
        errors["operator_id"] = [N_("An operator user must be linked to an operator.")]
    if errors:
        raise ValidationError(errors, N_("Some fields are invalid."))
    with write_transaction(session):
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict(N_("A user with email %(email)s already exists.", email=email), "duplicate_email")
        if operator_id is not None:
            operator = get_by_id(session, Operator, operator_id)
            if operator is None or operator.deleted_at is not None:
                raise ValidationError.single(
                    "operator_id", N_("Operator %(id)s does not exist.", id=operator_id)
                )
        user = User(
            email=email,
            role=role,
            password_hash=hash_password(password),
            operator_id=operator_id,
            created_at=utcnow(),
        )
        session.add(user)
        session.flush()
        record(session, "user.created", "user", user.id, {"after": _user_fields(user)})
    return user


def _user_fields(user: User) -> dict:
    """What the audit trail keeps of a user (never the password hash)."""
    return {
        "email": user.email,
        "role": user.role,
        "operator_id": user.operator_id,
        "is_enabled": user.is_enabled,
    }


def issue_token(
    session: Session, user: User, label: str | None = None, expires_at: datetime | None = None
) -> str:
    """Create an API token for the user; the plain token is returned only here."""
    label = (label or "").strip() or None
    if label is not None and len(label) > MAX_TOKEN_LABEL:
        raise ValidationError.single("label", N_("At most %(max)d characters.", max=MAX_TOKEN_LABEL))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_transaction(session):
        row = ApiToken(
            user_id=user.id,
            token_hash=token_hash(token),
            label=label,
            created_at=utcnow(),
            expires_at=expires_at,
        )
        session.add(row)
        session.flush()
        # Never the token itself: the id and label are enough to find it again.
        record(
            session, "api_token.issued", "api_token", row.id,
            {"user_id": user.id, "email": user.email, "label": label, "expires_at": expires_at},
        )
    return token


def issue_token_for_days(session: Session, user: User, label: str | None, days: int | None) -> str:
    """The tokens page: a token that expires after `days` (None: never)."""
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError.single(
            "expires_in_days", N_("Between 1 and %(max)d days.", max=MAX_TOKEN_DAYS)
        )
    expires_at = utcnow() + timedelta(days=days) if days else None
    return issue_token(session, user, label, expires_at)


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """The user's own tokens, newest first (hashes only: the secrets are gone)."""
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))
    )


def revoke_token(session: Session, token_id: int, user: User, own_only: bool = False) -> ApiToken:
    """Revoke a token of the user (a supervisor, unless `own_only`, any user's)."""
    with write_transaction(session):
        token = get_by_id(session, ApiToken, token_id)
        may = token is not None and (token.user_id == user.id or (user.is_supervisor and not own_only))
        if not may:
            raise NotFound(f"Token {token_id} not found.")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            record(
                session, "api_token.revoked", "api_token", token.id,
                {"user_id": token.user_id, "label": token.label},
            )
    return token


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
    user = get_by_id(session, User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return user


def set_user_enabled(session: Session, user_id: int, enabled: bool, actor: User | None) -> User:
    """Enable or disable sign-in and API tokens of a user; nobody may disable itself.

    Disabling ends all of the user's sessions. `actor` None: the command line.
    """
    with write_transaction(session):
        user = get_user(session, user_id)
        # Disabling oneself would also lock out the last supervisor.
        if not enabled and actor is not None and user.id == actor.id:
            raise Forbidden("You cannot disable your own account.", "disable_self")
        before = _user_fields(user)
        user.is_enabled = enabled
        if not enabled:
            end_user_sessions(session, user.id)
        if before != _user_fields(user):
            record(session, "user.updated", "user", user.id, changes(before, _user_fields(user)))
    return user


# --- passwords -----------------------------------------------------------------


def password_problems(password: str, email: str | None = None) -> list[str]:
    """What is wrong with `password` as a new password (of the user with `email`); nothing: []."""
    if len(password) < MIN_PASSWORD:
        return [N_("At least %(min)d characters.", min=MIN_PASSWORD)]
    if len(password) > MAX_PASSWORD:
        return [N_("At most %(max)d characters.", max=MAX_PASSWORD)]
    if "\x00" in password:
        return [N_("Invalid character.")]
    if email is None:
        return []
    folded = password.casefold()
    local_part = email.partition("@")[0].casefold()
    # The one thing anybody who sees the user's email would try first.
    if folded == email.casefold() or (len(local_part) >= 3 and local_part in folded):
        return [N_("Must not contain your email or its name part.")]
    return []


def change_password(
    session: Session, user_id: int, current: str, new: str, keep_token: str | None,
    throttle: SigninThrottle, address: str | None,
) -> User:
    """The user's own change: the current password is required; their other sessions end.

    Guesses of the current password count against the account like wrong
    sign-ins: a borrowed session cannot be used to find the password.
    """
    user = get_user(session, user_id)
    attempt = throttle.attempt(session, user.email, address)
    if not attempt.allowed:
        throttle.refused(session, attempt, user.id, user.email)
        raise SigninThrottled(attempt.verdict.retry_after)
    if not verify_password(user, current):
        raise ValidationError.single("current_password", N_("Wrong password."))
    throttle.succeeded(session, attempt)
    problems = password_problems(new, user.email)
    if not problems and verify_password(user, new):
        problems = [N_("Choose a password other than the current one.")]
    if problems:
        raise ValidationError({"new_password": problems}, N_("Some fields are invalid."))
    return _set_password(session, user, new, must_change=False, how="changed", keep_token=keep_token)


def set_password(session: Session, email: str, password: str) -> User:
    """An administrator's change from the command line: ends all of the user's sessions."""
    user = require_user(session, email)
    problems = password_problems(password, user.email)
    if problems:
        raise ValidationError({"password": problems}, N_("Some fields are invalid."))
    return _set_password(session, user, password, must_change=False, how="set")


def reset_password(session: Session, user_id: int, actor: User) -> tuple[User, str]:
    """A supervisor's reset: a one-time password, shown once; the user chooses a new one at sign-in."""
    user = get_user(session, user_id)
    if user.id == actor.id:
        raise Forbidden("Change your own password on the Change password page.", "reset_self")
    one_time = secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)
    return _set_password(session, user, one_time, must_change=True, how="reset"), one_time


def _set_password(
    session: Session, user: User, password: str, must_change: bool, how: str, keep_token: str | None = None
) -> User:
    password_hash = hash_password(password)  # outside the write transaction: it takes a while
    with write_transaction(session):
        user.password_hash = password_hash
        user.must_change_password = must_change
        ended = end_user_sessions(session, user.id, keep_token)
        # Never the password nor its hash.
        details = {"email": user.email, "sessions_ended": ended}
        record(session, f"user.password_{how}", "user", user.id, details)
    return user


# --- sign-in -------------------------------------------------------------------


class SigninFailed(Exception):
    """Wrong email or password, or a disabled account: one answer for all."""


class SigninThrottled(SigninFailed):
    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed sign-ins.")
        self.retry_after = retry_after


def sign_in(
    session: Session, email: str, password: str, throttle: SigninThrottle, address: str | None
) -> User:
    """The user these credentials belong to, or SigninFailed / SigninThrottled.

    Throttled attempts are refused before the password is checked, whether
    or not it is right: otherwise the throttle would not stop the guessing.
    Every refusal writes a "signin.failed" audit row (never the password);
    throttled ones one row per lock-out window, counting its attempts.
    """
    try:
        account = normalize_email(email)
    except ValueError:
        account = email.strip().lower()
    # Counted as a failure from here on, unless the password is right.
    attempt = throttle.attempt(session, account, address)
    if not attempt.allowed:
        user = get_user_by_email(session, email)
        throttle.refused(session, attempt, user.id if user else None, account)
        raise SigninThrottled(attempt.verdict.retry_after)
    user = get_user_by_email(session, email)
    # One hash check in every case (a dummy one for an unknown email): the
    # time taken tells nothing either.
    password_ok = verify_password(user, password)
    if user is not None and password_ok and user.is_enabled:
        throttle.succeeded(session, attempt)
        return user
    reason = "unknown" if user is None else "disabled" if password_ok else "bad_password"
    _signin_failed(session, account, user, reason)
    raise SigninFailed("Wrong email or password.")


def _signin_failed(session: Session, account: str, user: User | None, reason: str) -> None:
    with write_transaction(session):
        record(
            session, "signin.failed", "user", user.id if user else None,
            {"email": account[:320], "reason": reason},
        )
