"""What an open page watches to stay live (contract §5, docs/live.md).

A page polls `/live` with the state it shows; the answer is "nothing
changed" (204, no body) unless what the page shows changed. All of it is
read from the database in one small statement, so every app instance,
worker and host sees every change without a signal of its own:

- the number waiting (the title and the navigation show it);
- the queue's first page (its contacts, oldest first, PER_PAGE of them, on
  the queue's partial index): sum, a scrambled sum and highest id of their ids, and
  whether there is a second page. A contact that joins the end of a long
  queue changes the number waiting, not the first page, so the open queue
  pages are not re-read for it;
- the viewer's own contacts (an operator user): count, highest id and sum
  of ids of their operator's active contacts (ix_contacts_operator_active).

Each process keeps what it read for SHARED_FOR seconds per operator, so
however many pages poll, a worker asks the database at most a few times a
second for each operator user polling.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import BigInteger, Integer, bindparam, cast, func, select
from sqlalchemy.engine import Engine

from ..core.driver_sql import DriverStatement
from ..models import Contact
from .tx import autocommit

SHARED_FOR = 0.25  # seconds a process reuses what it read (well under a page's poll interval)
TICKET_SECONDS = 15 * 60  # a page's ticket for /live and the stream; the page then asks for another


def _signer(secret_key) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="crm-live")


def make_ticket(secret_key, user_id: int, operator_id: int | None) -> str:
    """What a page shows /live or the stream to say whose state it follows (signed, dated)."""
    return _signer(secret_key).dumps([user_id, operator_id or 0])


def read_ticket(secret_key, text: str, max_age: float) -> tuple[int | None, float] | None:
    """(operator id or None, when the ticket was signed as a Unix time); None if it is missing,
    forged or older than `max_age` seconds."""
    try:
        (_user_id, operator_id), signed_at = _signer(secret_key).loads(
            text, max_age=max_age, return_timestamp=True
        )
    except (BadSignature, ValueError, TypeError):
        return None
    return (operator_id or None), signed_at.timestamp()


@dataclass(frozen=True)
class LiveState:
    waiting: int
    queue: str  # changes whenever the queue's first page would show other contacts
    mine: str  # the same for an operator user's own contacts ("" for others)
    mine_count: int = 0

    @property
    def lists_version(self) -> str:
        """What the page's lists show: it refreshes them when this changes."""
        return f"{self.queue}~{self.mine}"

    @property
    def version(self) -> str:
        return f"{self.lists_version}~{self.waiting}"

    @staticmethod
    def lists_of(version: str) -> str:
        """The `lists_version` part of a `version` (as a page sends it back)."""
        return version.rpartition("~")[0]

    def as_json(self) -> dict:
        return {"v": self.version, "waiting": self.waiting, "mine_count": self.mine_count}


def _state(first_page: int):
    """One statement: the number waiting, the queue's first page, one operator's own contacts."""
    operator_id = bindparam("operator_id", type_=Integer)
    active = Contact.is_active.is_(True)
    queued = (active, Contact.operator_id.is_(None))
    page = (
        select(Contact.id.label("id"))
        .where(*queued)
        .order_by(Contact.created_at, Contact.id)  # as the queue lists them (ix_contacts_queue)
        .limit(first_page)
        .subquery()
    )
    mine = (active, Contact.operator_id == operator_id)

    def value(column, *where, source=None):
        query = select(column).where(*where)
        return (query.select_from(source) if source is not None else query).scalar_subquery()

    return select(
        value(func.count(Contact.id), *queued),
        value(func.coalesce(func.sum(page.c.id), 0), source=page),
        # A second, scrambled sum: two sets with one sum rarely share the other. In 64 bits: an id
        # times the multiplier is beyond 32.
        value(func.coalesce(func.sum(cast(page.c.id, BigInteger) * 7919 % 1_000_003), 0), source=page),
        value(func.coalesce(func.max(page.c.id), 0), source=page),
        value(func.count(Contact.id), *mine),
        value(func.coalesce(func.max(Contact.id), 0), *mine),
        value(func.coalesce(func.sum(Contact.id), 0), *mine),
    )


# Per first-page size, run on the driver's cursor (driver_sql.py): the answer is integers.
_statements: dict[int, DriverStatement] = {}
_read_at: dict[int | None, tuple[float, tuple]] = {}  # per operator: what this process read last, and when


def live_state(engine: Engine, operator_id: int | None, first_page: int, fresh: bool = False) -> LiveState:
    """What the pages of an operator user (or anyone else, `operator_id` None) show; `first_page`:
    the queue's page size. `fresh`: read now (a page shows it next to what it just read), not
    what this process read a moment ago."""
    now = time.monotonic()
    seen = _read_at.get(operator_id)
    if not fresh and seen is not None and now - seen[0] < SHARED_FOR:
        row = seen[1]
    else:
        statement = _statements.get(first_page)
        if statement is None:
            statement = _statements[first_page] = DriverStatement(_state(first_page))
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                with autocommit(conn):  # one round trip: no BEGIN, no ROLLBACK
                    row = statement.one(conn, {"operator_id": operator_id})
            else:
                row = statement.one(conn, {"operator_id": operator_id})
        if len(_read_at) > 10_000:  # one entry per operator at most; never grows without bound
            _read_at.clear()
        _read_at[operator_id] = (now, row)
    waiting, page_sum, page_scrambled, page_highest, mine_count, mine_highest, mine_total = map(int, row)
    more = int(waiting > first_page)  # whether the page offers a second page, not how many
    queue = f"{more}.{page_sum}.{page_scrambled}.{page_highest}"
    if operator_id is None:
        return LiveState(waiting, queue, "")
    return LiveState(waiting, queue, f"{mine_count}.{mine_highest}.{mine_total}", mine_count)


def _mine_by_operator(operator_ids: list[int]):
    active = Contact.is_active.is_(True)
    return (
        select(Contact.operator_id, func.count(Contact.id), func.max(Contact.id), func.sum(Contact.id))
        .where(active, Contact.operator_id.in_(operator_ids))  # ix_contacts_operator_active, per operator
        .group_by(Contact.operator_id)
    )


def live_states(
    engine: Engine, operator_ids: set[int | None], first_page: int
) -> dict[int | None, LiveState]:
    """The live state of every operator in `operator_ids` (None: everyone else) read at once:
    one statement for the queue, one for all their own contacts, however many they are."""
    statement = _statements.get(first_page)
    if statement is None:
        statement = _statements[first_page] = DriverStatement(_state(first_page))
    operators = sorted(i for i in operator_ids if i is not None)
    with engine.connect() as conn:
        row = statement.one(conn, {"operator_id": None})
        waiting, page_sum, page_scrambled, page_highest, *_ = map(int, row)
        mine = {}
        if operators:
            mine = {r[0]: tuple(map(int, r[1:])) for r in conn.execute(_mine_by_operator(operators))}
        conn.rollback()
    queue = f"{int(waiting > first_page)}.{page_sum}.{page_scrambled}.{page_highest}"
    states: dict[int | None, LiveState] = {}
    for operator_id in operator_ids:
        if operator_id is None:
            states[None] = LiveState(waiting, queue, "")
        else:
            count, highest, total = mine.get(operator_id, (0, 0, 0))
            states[operator_id] = LiveState(waiting, queue, f"{count}.{highest}.{total}", count)
    return states


def forget() -> None:
    """Drop what this process read (tests that change data between two reads)."""
    _read_at.clear()
