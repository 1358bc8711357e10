"""A source's recent webhook deliveries: the requests that passed the token check (contract §2a).

The source's page lists the last RECENT of them, so whoever connects a form sees
what arrived: the answer, what was recognised as which field, what was kept,
the warnings and the body (bounded, secrets masked).

Written apart from the intake, in batches: after its answer, a request hands
its delivery row to this process's log (`later`); the request that brings
the FLUSH_AT-th row, or the first to come once the oldest row has waited
FLUSH_EVERY seconds, writes the batch in one transaction once its answer has
gone. A thread writes the rows of a worker that has gone quiet (LONGEST_WAIT).
So the intake's own transaction holds no row, no index entry and no
foreign-key check for it, and a busy worker writes its rows between requests,
never from a second thread competing with them (docs/performance.md). The
source's page writes what this process holds before it reads; another
worker's rows show within LONGEST_WAIT. A worker killed outright loses what
it held (at most LONGEST_WAIT seconds of a log, never a contact); one that
exits writes it first. Each source keeps its last RECENT rows: every PRUNE_EVERY rows of a
source written by a process, it drops that source's older ones in the same
batch.
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from ..core.driver_sql import DriverStatement
from ..domain.form_body import MASK, is_secret_name
from ..models import WebhookDelivery, utcnow
from .search import index_pending
from .tx import write, write_connection

RECENT = 50
PRUNE_EVERY = 256
FLUSH_EVERY = 0.5  # seconds after which the next request writes the waiting rows
QUIET = 0.25  # ... and after which, with no request since, the thread writes them
LONGEST_WAIT = FLUSH_EVERY + QUIET  # seconds a delivery row waits at most in its process
FLUSH_AT = 64  # rows: written at once (by the request that brings the 64th)
MAX_SHOWN_BODY = 4000  # characters of the body kept with a delivery
_SECRET_IN_TEXT = re.compile(
    r"""(?ix)
    (["']?(?:secret|token|webhook[_-]?token|password|api[_-]?key|access[_-]?token)["']?\s*[:=]\s*)
    ("[^"]*"|'[^']*'|[^\s&,;}]+)
    """
)
_table = WebhookDelivery.__table__
_INSERT = insert(_table)
_INSERT_ROWS = DriverStatement(_INSERT)  # a batch at once (COPY on PostgreSQL), on the driver's cursor


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


class _Log:
    """This process's delivery rows not yet written, per engine (an app; tests make many)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.writing = threading.Lock()
        self.waiting: dict[Engine, list[dict]] = {}
        self.since: dict[Engine, float] = {}  # when the oldest waiting row came (time.monotonic)
        self.since_pruned: dict[tuple[Engine, int], int] = {}  # rows written per source since it was pruned
        self.writer: threading.Thread | None = None
        self.wake = threading.Event()

    def add(self, engine: Engine, row: dict) -> bool:
        """Keep the row; True when FLUSH_AT rows are waiting, or the oldest has waited FLUSH_EVERY
        seconds (the caller writes them)."""
        with self.lock:
            rows = self.waiting.setdefault(engine, [])
            rows.append(row)
            if len(rows) == 1:
                self.since[engine] = time.monotonic()
                self.wake.set()  # the writer sleeps until the oldest row is due
            if self.writer is None:  # started in the serving process (after gunicorn's fork)
                self.writer = threading.Thread(target=self._write_late_rows, daemon=True)
                self.writer.start()
                atexit.register(self.flush_all)
            return len(rows) >= FLUSH_AT or time.monotonic() - self.since[engine] >= FLUSH_EVERY

    def take(self, engine: Engine) -> list[dict]:
        with self.lock:
            self.since.pop(engine, None)
            return self.waiting.pop(engine, [])

    def flush(self, engine: Engine) -> int:
        # One writer at a time: a page that flushes waits for rows being written.
        with self.writing:
            rows = self.take(engine)
            if rows:
                _write(engine, rows, self.since_pruned)
            return len(rows)

    def flush_quietly(self, engine: Engine) -> None:
        try:
            self.flush(engine)
        except SQLAlchemyError:  # a log: the requests' answers never depended on it
            log.warning("deliveries: could not write %s", "the waiting rows", exc_info=True)
        except Exception:
            # A bug; the writer thread must outlive it, or later rows would wait for FLUSH_AT.
            log.exception("deliveries: writing the waiting rows failed")

    def flush_all(self) -> None:
        with self.lock:
            engines = list(self.waiting)
        for engine in engines:
            self.flush_quietly(engine)

    def _write_late_rows(self) -> None:
        """Write the rows that have waited LONGEST_WAIT seconds: a worker that answers requests
        writes its own after an answer (at FLUSH_AT rows or FLUSH_EVERY seconds), so this thread
        writes only for a quiet one. Writing from here while requests run cost about 5 % more CPU
        per request (docs/performance.md)."""
        while True:
            longest = FLUSH_EVERY + QUIET  # read each time: the tests change FLUSH_EVERY
            with self.lock:
                oldest = min(self.since.values(), default=None)
            self.wake.wait(None if oldest is None else max(0.0, oldest + longest - time.monotonic()))
            self.wake.clear()
            now = time.monotonic()
            with self.lock:
                due = [engine for engine, since in self.since.items() if since + longest <= now]
            for engine in due:
                self.flush_quietly(engine)


log = logging.getLogger("crm_web.deliveries")
_log = _Log()


def later(
    engine: Engine, source_id: int, status: int, delivery: Delivery, contact_id: int | None = None
) -> bool:
    """Record a delivery after the request's transaction: written within LONGEST_WAIT seconds. True
    when the waiting rows are due (FLUSH_AT of them, or FLUSH_EVERY seconds old): the caller then
    writes them with `flush` once it has answered."""
    return _log.add(engine, delivery.values(source_id, status, contact_id))


def flush(engine: Engine) -> int:
    """Write the delivery rows this process holds for `engine` now (a source's page, before it
    reads); how many."""
    return _log.flush(engine)


def flush_quietly(engine: Engine) -> None:
    """`flush`, logging a database error instead of raising it (after the answer has gone)."""
    _log.flush_quietly(engine)


def flush_all() -> None:
    """Write every delivery row this process holds (a worker that exits)."""
    _log.flush_all()


def discard_waiting() -> None:
    """Drop the rows waiting and the prune counts (tests that wipe the database)."""
    with _log.lock:
        _log.waiting.clear()
        _log.since.clear()
        _log.since_pruned.clear()


def _write(engine: Engine, rows: list[dict], since_pruned: dict) -> None:
    """The rows, the search index's catch-up (SQLite) and the sources' pruning in one transaction."""
    to_prune = _sources_to_prune(engine, rows, since_pruned)
    with write_connection(engine) as conn:
        if conn.dialect.name == "postgresql":
            # A log: its commit need not wait for the disk (a crash may lose the last rows).
            _NO_DISK_WAIT.write(conn, {})
        _INSERT_ROWS.insert_many(conn, rows)
        if conn.dialect.name == "sqlite":
            index_pending(conn)  # the contacts of these requests into the search index, at once
        for source_id in to_prune:
            write(conn, _PRUNE, {"s_id": source_id})


def _sources_to_prune(engine: Engine, rows: list[dict], since_pruned: dict) -> list[int]:
    """The sources of `rows` that this process has written PRUNE_EVERY rows of since it pruned them."""
    to_prune = []
    with _log.lock:
        for source_id in {row["source_id"] for row in rows}:
            key = (engine, source_id)
            since_pruned[key] = since_pruned.get(key, 0) + sum(r["source_id"] == source_id for r in rows)
            if since_pruned[key] >= PRUNE_EVERY:
                since_pruned[key] = 0
                to_prune.append(source_id)
    return to_prune


_NO_DISK_WAIT = DriverStatement(text("SET LOCAL synchronous_commit TO OFF"))
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


def recent_deliveries(session: Session, source_id: int, limit: int = RECENT) -> list[WebhookDelivery]:
    """The source's last `limit` deliveries, newest first (ix_webhook_deliveries_source_id), each
    with its stored contact; what this process still holds written first."""
    if flush(session.get_bind()):
        # A snapshot taken before (SQLite's read transaction) would not see them: a new one.
        session.commit()
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.source_id == source_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
            .options(selectinload(WebhookDelivery.contact))
        )
    )
