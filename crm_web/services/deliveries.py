"""A source's recent webhook deliveries: the requests that passed the token check (contract §2a).

The source's page lists the last RECENT of them, so whoever connects a form sees
what arrived: the answer, what was recognised as which field, what was kept,
the warnings and the body (bounded, secrets masked). A stored contact's row
is written by the intake in the contact's own statement or transaction
(services/intake.py), any other by `record_alone`. Each source keeps its last
RECENT rows: every PRUNE_EVERY deliveries of a source that a worker records,
it drops that source's older rows in one statement after the request's own
transaction (`recorded`). A source therefore holds at most RECENT +
PRUNE_EVERY rows per worker process, and the intake pays one small DELETE
per PRUNE_EVERY requests instead of a trigger's on every insert
(docs/performance.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, selectinload

from ..domain.form_body import MASK, is_secret_name
from ..models import WebhookDelivery, utcnow
from .tx import inserted_id, write, write_connection

RECENT = 50
PRUNE_EVERY = 32
MAX_SHOWN_BODY = 4000  # characters of the body kept with a delivery
_SECRET_IN_TEXT = re.compile(
    r"""(?ix)
    (["']?(?:secret|token|webhook[_-]?token|password|api[_-]?key|access[_-]?token)["']?\s*[:=]\s*)
    ("[^"]*"|'[^']*'|[^\s&,;}]+)
    """
)
_table = WebhookDelivery.__table__
_INSERT = insert(_table)


@dataclass(frozen=True)
class Delivery:
    """What a delivery row says besides its source, status and contact."""

    recognised: dict[str, str] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    body: str | None = None
    stored_status: int = 201  # the answer's status if the request stores a contact

    def values(
        self, source_id: int, status: int, contact_id: int | None, now: datetime | None = None
    ) -> dict:
        return {
            "source_id": source_id,
            "received_at": now or utcnow(),
            "status": status,
            "contact_id": contact_id,
            "recognised": dict(self.recognised) or None,
            "kept": list(self.kept) or None,
            "warnings": [str(w) for w in self.warnings] or None,
            "body": self.body,
        }


def _has_secret(value: object) -> bool:
    if isinstance(value, dict):
        return any(is_secret_name(k) or _has_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


def _masked(value: object) -> object:
    if isinstance(value, dict):
        return {k: MASK if is_secret_name(k) else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def shown_body(shown: object, raw: bytes | str | None) -> str | None:
    """The body as the page shows it: a JSON object or form pairs with secrets masked, else the raw
    text with anything that looks like a secret masked; at most MAX_SHOWN_BODY characters."""
    if isinstance(shown, dict) and raw and not _has_secret(shown):
        # As the sender sent it: the common case costs no re-encoding.
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    elif isinstance(shown, dict):
        text = json.dumps(_masked(shown), ensure_ascii=False, indent=1, default=str)
    elif isinstance(shown, list | tuple):
        text = "\n".join(
            f"{name}={MASK if is_secret_name(name) else value}" for name, value in shown
        )
    elif raw:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        text = _SECRET_IN_TEXT.sub(lambda m: m.group(1) + MASK, text)
    else:
        return None
    text = text.replace("\x00", "")
    return text if len(text) <= MAX_SHOWN_BODY else text[: MAX_SHOWN_BODY - 1] + "…"


def record(
    conn: Connection, source_id: int, status: int, delivery: Delivery, contact_id: int | None = None
) -> int | None:
    """Write a delivery row in the caller's transaction (the trigger drops the source's older ones)."""
    return inserted_id(conn, _INSERT, delivery.values(source_id, status, contact_id))


def record_alone(engine: Engine, source_id: int, status: int, delivery: Delivery) -> None:
    """A delivery row of a request that stored nothing, in a write transaction of its own."""
    with write_connection(engine) as conn:
        record(conn, source_id, status, delivery)


_PRUNE = delete(_table).where(
    _table.c.source_id == bindparam("s_id"),
    _table.c.id < (
        select(_table.c.id)
        .where(_table.c.source_id == bindparam("s_id"))
        .order_by(_table.c.id.desc())
        .offset(RECENT - 1)
        .limit(1)
        .scalar_subquery()
    ),
)
_since_pruned: dict[int, int] = {}  # per source: deliveries this process recorded since it last pruned


def recorded(engine: Engine, source_id: int) -> None:
    """Count a delivery row this process wrote for the source; every PRUNE_EVERY, drop the
    source's rows older than its last RECENT (ix_webhook_deliveries_source_id)."""
    count = _since_pruned.get(source_id, 0) + 1
    if count < PRUNE_EVERY:
        _since_pruned[source_id] = count
        return
    _since_pruned[source_id] = 0
    with write_connection(engine) as conn:
        write(conn, _PRUNE, {"s_id": source_id})


def forget_counts() -> None:
    """Start counting afresh (tests)."""
    _since_pruned.clear()


def recent_deliveries(session: Session, source_id: int, limit: int = RECENT) -> list[WebhookDelivery]:
    """The source's last `limit` deliveries, newest first (ix_webhook_deliveries_source_id), each
    with its stored contact."""
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.source_id == source_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
            .options(selectinload(WebhookDelivery.contact))
        )
    )
