"""Who is acting: set per request by the entry points (the pages, the API, the
webhook, the CLI) and read by the audit trail (services/audit.py), so that
services keep their signatures and stay free of Flask. Outside any request
the actor is "system"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    label: str  # an email, "webhook <key>", "api <email>", "cli", "system"
    user_id: int | None = None
    ip: str | None = None
    request_id: str | None = None


SYSTEM = Actor("system")
_actor: ContextVar[Actor] = ContextVar("crm_audit_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _actor.get()


def set_actor(actor: Actor) -> None:
    """Set for the rest of the current request (entry points call this)."""
    _actor.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Set the actor for a block (CLI commands, background work, tests)."""
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)
