"""What an open page watches to stay live (contract §5, docs/live.md).

A page polls `/live` with the state it shows; the answer is "nothing
changed" (204, no body) unless the queue or the viewer's own contacts
changed. Both are read from the database, so every app instance, worker and
host sees every change without a signal of its own:

- the queue: count, highest id and sum of ids of the unassigned active
  contacts (the queue's partial index), and the operators' summed load and
  active count (what the queue page offers depends on who has room);
- the viewer's contacts (an operator user): count, highest id and sum of ids
  of their operator's active contacts (ix_contacts_operator_active).

A contact entering or leaving either set changes its count or sum; one
leaving while another enters changes the highest id or the sum. Each
process keeps what it read for SHARED_FOR seconds, so however many pages
poll, a worker asks the database at most a few times a second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ..models import Contact, Operator

SHARED_FOR = 0.25  # seconds a process reuses what it read (well under a page's poll interval)


@dataclass(frozen=True)
class LiveState:
    waiting: int
    queue: str  # changes whenever the queue page would show something else
    mine: str  # the same for an operator user's own contacts ("" for others)
    mine_count: int = 0

    @property
    def version(self) -> str:
        return f"{self.queue}~{self.mine}"

    def as_json(self) -> dict:
        return {"v": self.version, "waiting": self.waiting, "mine_count": self.mine_count}


def _queued():
    queued = (Contact.is_active.is_(True), Contact.operator_id.is_(None))
    return select(
        func.count(Contact.id), func.coalesce(func.max(Contact.id), 0), func.coalesce(func.sum(Contact.id), 0)
    ).where(*queued)


def _team():
    return select(
        func.coalesce(func.sum(Operator.active_load), 0),
        func.count(Operator.id).filter(Operator.is_active.is_(True)),
    ).where(Operator.deleted_at.is_(None))


def _mine(operator_id: int):
    return select(
        func.count(Contact.id), func.coalesce(func.max(Contact.id), 0), func.coalesce(func.sum(Contact.id), 0)
    ).where(Contact.is_active.is_(True), Contact.operator_id == operator_id)


_QUEUED = _queued()
_TEAM = _team()
_read_at: dict[object, tuple[float, tuple]] = {}  # what this process read last, and when


def _read(engine: Engine, key: object, statement, now: float, fresh: bool) -> tuple:
    seen = _read_at.get(key)
    if not fresh and seen is not None and now - seen[0] < SHARED_FOR:
        return seen[1]
    with engine.connect() as conn:
        row = tuple(conn.execute(statement).one())
    if len(_read_at) > 10_000:  # one entry per operator at most; never grows without bound
        _read_at.clear()
    _read_at[key] = (now, row)
    return row


def live_state(engine: Engine, operator_id: int | None, fresh: bool = False) -> LiveState:
    """The queue's and (for an operator user) the viewer's own contacts' state; `fresh`:
    read now (a page shows it next to what it just read), not what this process read last."""
    now = time.monotonic()
    count, highest, total = _read(engine, "queue", _QUEUED, now, fresh)
    load, active = _read(engine, "team", _TEAM, now, fresh)
    queue = f"{count}.{highest}.{total}.{load}.{active}"
    if operator_id is None:
        return LiveState(int(count), queue, "")
    mine_count, mine_highest, mine_total = _read(engine, operator_id, _mine(operator_id), now, fresh)
    return LiveState(int(count), queue, f"{mine_count}.{mine_highest}.{mine_total}", int(mine_count))


def forget() -> None:
    """Drop what this process read (tests that change data between two reads)."""
    _read_at.clear()
