"""The audit trail: who decided or changed what, when, before and after.

Services call `record()` inside the write transaction of the change, so a
change and its audit row commit or roll back together. Who is acting comes
from a context variable that the entry points set per request (the pages,
the API, the webhook, the CLI); services keep their signatures and stay
free of Flask. Outside any request the actor is "system".
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..core.actor import Actor, current_actor
from ..models import AuditEvent, utcnow
from .tx import write


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(details: dict | None) -> str | None:
    return None if details is None else json.dumps(details, default=_default, ensure_ascii=False)


_audit = AuditEvent.__table__
_INSERT = insert(_audit)
_INSERT_RETURNING_ID = insert(_audit).returning(_audit.c.id)


def row(
    action: str,
    subject_type: str,
    subject_id: int | None,
    details: dict | None = None,
    actor: Actor | None = None,
) -> dict:
    """The columns of one audit row, `actor` defaulting to the current one.

    The one builder of audit rows: `record` writes what it returns, and so
    does the intake's one-statement strategy (services/intake_sql.py), which
    takes it as parameters of its statement.
    """
    actor = actor or current_actor()
    return {
        "created_at": utcnow(),
        "actor_user_id": actor.user_id,
        "actor_label": actor.label[:400],
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": to_json(details),
        "ip": actor.ip[:64] if actor.ip else None,
        "request_id": actor.request_id[:64] if actor.request_id else None,
    }


def record(
    where: Session | Connection,
    action: str,
    subject_type: str,
    subject_id: int | None,
    details: dict | None = None,
    actor: Actor | None = None,
) -> None:
    """Write one audit row in the current transaction of a session or a connection.

    Actions are dotted names: "contact.assigned" (details: mode
    auto/manual/drain, candidates with weight/load/max_load, the draw),
    "contact.closed" (details: its outcome; same_source_as when closed as spam with another),
    "contact.note_added" (details: note_id, text), "contact.returned", "operator.created/updated/deleted",
    "source.created/updated/deleted/token_rotated", "weights.updated",
    "user.created/updated/deleted/password_changed/password_set/password_reset",
    "api_token.issued/revoked",
    "signin.failed", "lead.merged".
    """
    write(_connection(where), _INSERT, row(action, subject_type, subject_id, details, actor))


def record_returning_id(
    where: Session | Connection,
    action: str,
    subject_type: str,
    subject_id: int | None,
    details: dict | None = None,
) -> int:
    """`record`, for a row that is updated later (the one row of a sign-in lock-out): its id."""
    return _connection(where).execute(
        _INSERT_RETURNING_ID, row(action, subject_type, subject_id, details)
    ).scalar_one()


def _connection(where: Session | Connection) -> Connection:
    return where if isinstance(where, Connection) else where.connection()


def changes(before: dict, after: dict) -> dict:
    """{"before": {...}, "after": {...}} with only the fields that changed."""
    changed = [k for k in after if before.get(k) != after.get(k)]
    return {"before": {k: before.get(k) for k in changed}, "after": {k: after[k] for k in changed}}
