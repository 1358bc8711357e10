"""Finding or creating the lead behind a request; lead queries."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select, union, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, selectinload

from ..core.driver_sql import DriverStatement
from ..domain.errors import NotFound, ValidationError
from ..domain.identifiers import Identifiers, normalize_email, normalize_external_id, normalize_phone
from ..domain.matching import LeadKeys, plan_match
from ..domain.messages import N_
from ..domain.search import SearchQuery, parse_query
from ..models import Contact, Lead, LeadDuplicate, utcnow
from .pagination import Page, paginate
from .search import lead_condition, newest_first_of_few
from .tx import insert_ignoring_conflicts, inserted_id

# A conflict means another request created or filled a lead meanwhile; the
# next attempt sees it. Three rounds cover any interleaving of two requests.
MAX_MATCH_ATTEMPTS = 5


_leads = Lead.__table__
_MATCH_COLUMNS = (_leads.c.id, _leads.c.external_id, _leads.c.phone, _leads.c.email, _leads.c.name)
# Statements built once per database and per set of identifiers given (and
# compiled once each, in the engine's statement cache).
_statements: dict[tuple, object] = {}


def _insert_lead_statement(conn: Connection):
    key = ("insert", conn.dialect.name)
    if key not in _statements:
        _statements[key] = insert_ignoring_conflicts(conn, _leads)
    return _statements[key]


def leads_holding(values: dict):
    """SELECT the leads holding any of `values` (identifier column -> value or
    bind parameter), as (id, external_id, phone, email, name).

    One indexed look-up per identifier, not `a = $1 OR b = $2 OR c = $3`:
    PostgreSQL's generic plan for the OR, made while the table is small, is
    a sequential scan, and it is kept as the table grows.
    """
    lookups = [select(*_MATCH_COLUMNS).where(_leads.c[name] == value) for name, value in values.items()]
    return lookups[0] if len(lookups) == 1 else union(*lookups)


def _match_statement(fields: tuple[str, ...]) -> DriverStatement:
    key = ("match", fields)
    if key not in _statements:
        _statements[key] = DriverStatement(leads_holding({field: bindparam(field) for field in fields}))
    return _statements[key]


def _fill_statement(fields: tuple[str, ...]) -> DriverStatement:
    """UPDATE the lead's `fields` where they are empty. On SQLite OR IGNORE: a value another lead
    holds skips the row instead of failing (one writer: only a bug could cause it there)."""
    key = ("fill", fields)
    if key not in _statements:
        _statements[key] = DriverStatement(
            update(_leads)
            .where(_leads.c.id == bindparam("lead_id"))
            .values({field: func.coalesce(_leads.c[field], bindparam(f"fill_{field}")) for field in fields})
            .prefix_with("OR IGNORE", dialect="sqlite")
        )
    return _statements[key]


def resolve_lead(
    conn: Connection, ids: Identifiers, name: str | None, insert_first: bool = True
) -> tuple[int, bool]:
    """Return (lead id, created) for a request, inside the caller's transaction.

    Most requests come from new clients, so the lead is inserted first: the
    INSERT ... ON CONFLICT DO NOTHING succeeds exactly when no lead holds any
    of the identifiers (each is unique), which is the "no match" case: one
    statement. Otherwise the matching leads are read and the plan applied.
    `insert_first=False`: the caller has just seen the insert meet a
    conflict (services/intake.py), so the first round starts with the look-up.
    """
    given = ids.present()
    insert_lead = _insert_lead_statement(conn)
    if not given:
        # A site form with no readable identifier (contract §2a): a lead of its own, never matched.
        return inserted_id(conn, insert_lead, {"name": name, "created_at": utcnow()}), True
    match = _match_statement(tuple(given))
    for attempt in range(MAX_MATCH_ATTEMPTS):
        if insert_first or attempt:
            lead_id = inserted_id(conn, insert_lead, {**given, "name": name, "created_at": utcnow()})
            if lead_id is not None:
                return lead_id, True
        rows = match.all(conn, given)  # (id, external_id, phone, email, name)
        plan = plan_match(ids, [LeadKeys(*row[:4]) for row in rows])
        if plan.creates_lead:
            continue  # the lead that held an identifier went away meanwhile (rolled back)
        if plan.duplicates and not _lock_leads_in_order(conn, [plan.lead_id, *plan.duplicates]):
            continue  # one of them was merged away meanwhile: match again
        target_name = next(row[4] for row in rows if row[0] == plan.lead_id)
        needs_fill = plan.fill or (name and target_name is None)
        if needs_fill and not _fill_in(conn, plan.lead_id, plan.fill, name if target_name is None else None):
            continue
        for other in plan.duplicates:
            conn.execute(
                insert_ignoring_conflicts(conn, LeadDuplicate).values(
                    lead_id=other, duplicate_of_id=plan.lead_id, created_at=utcnow()
                )
            )
        return plan.lead_id, False
    raise RuntimeError("lead matching did not settle; too many concurrent conflicts")


def _lock_leads_in_order(conn: Connection, lead_ids: list[int]) -> bool:
    """PostgreSQL: key-share locks on the leads, lowest id first; False if one is gone.

    A request naming several leads changes one and links the others; a
    merge locks its leads lowest id first too, so the two wait for each
    other instead of deadlocking. SQLite has one writer at a time.
    """
    if conn.dialect.name != "postgresql":
        return True
    locked = conn.scalars(
        select(Lead.id).where(Lead.id.in_(lead_ids)).order_by(Lead.id).with_for_update(key_share=True)
    ).all()
    return len(locked) == len(set(lead_ids))


def _fill_in(conn: Connection, lead_id: int, fill: dict[str, str], name: str | None) -> bool:
    """Set identifiers (and name) the lead lacks, never overwriting; False if the lead is gone.

    No savepoint (a tenth of the request's time): on PostgreSQL a value that
    another lead took meanwhile fails the statement (unique violation), and
    with it the transaction, which register_contact tries again as a whole.
    """
    values = {**fill, "name": name} if name else dict(fill)
    params = {"lead_id": lead_id, **{f"fill_{field}": value for field, value in values.items()}}
    return _fill_statement(tuple(values)).write(conn, params).rowcount == 1


def search_identifiers(
    phone: str | None, email: str | None, external_id: str | None, region: str
) -> dict[str, str]:
    """Normalise search filters like intake does; raise ValidationError."""
    errors: dict[str, list[str]] = {}
    result: dict[str, str] = {}
    for field, raw, normalise in (
        ("phone", phone, lambda v: normalize_phone(v, region)),
        ("email", email, normalize_email),
        ("external_id", external_id, normalize_external_id),
    ):
        if raw is None or not raw.strip():
            continue
        try:
            result[field] = normalise(raw)
        except ValueError as exc:
            errors[field] = [str(exc)]
    if errors:
        raise ValidationError(errors, N_("Some filters are invalid."))
    return result


def list_leads(
    session: Session,
    filters: dict[str, str],
    page: int,
    per_page: int,
    after: int | None = None,
    search: SearchQuery | None = None,
) -> Page:
    """Newest first; `after` as in list_contacts (a keyset page); `search`: the search box's query."""
    query = select(Lead)
    for field, value in filters.items():
        query = query.where(getattr(Lead, field) == value)
    if search is not None:
        query = query.where(lead_condition(session, search))
    keyset = Lead.id < after if after is not None else None
    return paginate(
        session, query.order_by(Lead.id.desc()), page, per_page, id_column=Lead.id, keyset=keyset,
        estimate_key=("leads", tuple(sorted(filters.items())), search),
        few_order=newest_first_of_few(session, Lead.id) if search is not None else None,
    )


def get_lead(session: Session, lead_id: int) -> Lead:
    """The lead with every contact and its operator loaded up front."""
    return _lead_with_contacts(session, lead_id, Contact.operator)


def lead_with_history(session: Session, lead_id: int) -> Lead:
    """The lead with every contact, its source and operator loaded up front."""
    return _lead_with_contacts(session, lead_id, Contact.operator, Contact.source)


def _lead_with_contacts(session: Session, lead_id: int, *of_contact) -> Lead:
    """The lead; its contacts and their relations `of_contact` selectin-loaded with it (no N+1)."""
    lead = session.scalar(
        select(Lead)
        .where(Lead.id == lead_id)
        .options(*(selectinload(Lead.contacts).selectinload(relation) for relation in of_contact))
    )
    if lead is None:
        raise NotFound(f"Lead {lead_id} not found.")
    return lead


def possible_duplicates(session: Session, lead_id: int) -> list[Lead]:
    """Leads recorded as possibly the same client as this one, either way round."""
    other_ids = select(LeadDuplicate.lead_id).where(LeadDuplicate.duplicate_of_id == lead_id).union(
        select(LeadDuplicate.duplicate_of_id).where(LeadDuplicate.lead_id == lead_id)
    )
    return list(session.scalars(select(Lead).where(Lead.id.in_(other_ids)).order_by(Lead.id)))


def search_leads(
    session: Session, q: str | None, region: str, page: int, per_page: int, after: int | None = None
) -> Page:
    """The search box (domain/search.py, services/search.py): every lead when `q` is blank."""
    condition = lead_search_condition(session, q, region)
    query = select(Lead) if condition is None else select(Lead).where(condition)
    keyset = Lead.id < after if after is not None else None
    return paginate(
        session, query.order_by(Lead.id.desc()), page, per_page, id_column=Lead.id, keyset=keyset,
        estimate_key=("lead-search", region, (q or "").strip()),
        few_order=newest_first_of_few(session, Lead.id) if condition is not None else None,
    )


def lead_search_condition(session: Session, q: str | None, region: str):
    """The search box's condition on leads (None: every lead); raise ValidationError."""
    query = parse_query(q or "", region)
    return lead_condition(session, query) if query.raw else None


def earlier_contacts(session: Session, lead_id: int, contact_id: int) -> int:
    """How many contacts the lead had before this one (0: the contact created the lead)."""
    return session.scalar(
        select(func.count(Contact.id)).where(Contact.lead_id == lead_id, Contact.id < contact_id)
    ) or 0
