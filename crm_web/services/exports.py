"""CSV exports of contacts and leads, produced in batches so any size streams in constant memory.

Each generator yields text chunks: first a byte order mark and the header
row (Excel then reads the file as UTF-8, Cyrillic included), then one chunk
per batch of rows. Batches are keyset pages in the list's own order, each
read in its own short transaction on a connection of its own, so a slow
download holds no transaction open and a million rows never sit in memory.
Quoting is RFC 4180 (the csv module, CRLF line ends); a text cell that
starts like a formula gets a leading apostrophe (OWASP "CSV injection").

The reader's `CsvStyle` (contract §5) gives the separator (`;` for a Russian
spreadsheet), the column headers and the status and outcome words in the
reader's language, and the zone of the times: ISO 8601 with that zone's
offset ("2026-12-05T03:16:00+03:00"), formatted by the database. The five
utm_* columns keep their names in every language (contract §2a). By default:
`,`, the column names below, the codes, UTC.

A contact's outcome is its own column; its notes are counted (`notes`) and the
latest one's text is `last_note`, read for a whole batch in one statement.

What a site form added to a contact (contract §2a) is spread over columns:
its five utm_* marks one each, its page_url, and in one cell each its
form_fields ("name: value; name: value", in the order received) and its
warnings ("; " between them). A lead's utm_* are those of its earliest
contact that carries any.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..domain.form_body import UTM_KEYS
from ..models import Contact, ContactNote, Lead, Operator, Source
from .contacts import ContactFilters, _filtered
from .leads import lead_search_condition
from .local_sql import csv_spans, local_iso

BATCH_SIZE = 2_000
BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CONTACT_COLUMNS = (
    "id", "created_at", "status", "source", "operator", "lead_id", "lead_name", "lead_phone",
    "lead_email", "lead_external_id", "name", "message", "assigned_at", "closed_at", "outcome", "notes",
    "last_note", *UTM_KEYS, "page_url", "form_fields", "warnings",
)
LEAD_COLUMNS = (
    "id", "created_at", "name", "phone", "email", "external_id", "contacts", "last_contact_at", *UTM_KEYS,
)
_NO_UTM = (None,) * len(UTM_KEYS)
STATUSES = ("closed", "unassigned", "assigned")


@dataclass(frozen=True)
class CsvStyle:
    """How the reader's spreadsheet wants the file; what a mapping leaves out stays as it is."""

    separator: str = ","
    headers: Mapping[str, str] = field(default_factory=dict)  # column name → header (utm_* never)
    statuses: Mapping[str, str] = field(default_factory=dict)  # status code → word
    outcomes: Mapping[str, str] = field(default_factory=dict)  # outcome code → word
    zone: tzinfo = UTC

    def header_row(self, columns: tuple[str, ...]) -> list[str]:
        return [name if name in UTM_KEYS else self.headers.get(name, name) for name in columns]


_FORMULA_START = frozenset(FORMULA_START)


def cells(row) -> list:
    """A row's CSV cells: None empty, numbers as they are, formula-like text neutralised.

    The hot loop of an export (a million rows, 14 cells each): one comprehension,
    no function call per cell. Dates arrive already formatted by the database.
    """
    return [
        "" if v is None else ("'" + v if v[:1] in _FORMULA_START else v) if v.__class__ is str else v
        for v in row
    ]


def _timestamps(session: Session, style: CsvStyle) -> Callable:
    """ISO 8601 with the style's zone offset, formatted by the database (cheaper than in Python)."""
    dialect, spans = session.get_bind().dialect.name, csv_spans(style.zone, datetime.now(UTC))
    return lambda column: local_iso(dialect, column, spans)


def _utm_cells(utm: dict | None) -> tuple:
    return tuple(map(utm.get, UTM_KEYS)) if utm else _NO_UTM


def _form_fields_cell(fields: dict | None) -> str | None:
    """{"City": "Kazan", "Size": "M"} → "City: Kazan; Size: M"."""
    return "; ".join(f"{name}: {text}" for name, text in fields.items()) if fields else None


def _warnings_cell(warnings: list | None) -> str | None:
    return "; ".join(map(str, warnings)) if warnings else None


class _Pieces(list):
    """What csv.writer writes to: the pieces of one chunk, joined once (no growing buffer)."""

    write = list.append


def _chunks(rows: Iterator[list], columns: tuple[str, ...], style: CsvStyle) -> Iterator[str]:
    """The header, then one chunk of CSV text per batch (each batch is one list of rows)."""
    pieces = _Pieces([BOM])
    writer = csv.writer(pieces, delimiter=style.separator)  # excel dialect: RFC 4180 quoting, CRLF
    writer.writerow(style.header_row(columns))
    yield "".join(pieces)
    for batch in rows:
        pieces.clear()
        writer.writerows(map(cells, batch))
        yield "".join(pieces)


def _batches(session: Session, page: Callable, batch_size: int) -> Iterator[list]:
    """Call page(conn, last_id, size) until a batch comes back short; a row's first cell is its id."""
    engine = session.get_bind()
    cursor = None
    while True:
        with engine.connect() as conn:  # one short read transaction per batch
            rows = page(conn, cursor, batch_size)
        if rows:
            yield rows
        if len(rows) < batch_size:
            return
        cursor = rows[-1][0]


# --- contacts ----------------------------------------------------------------

_lead = aliased(Lead)
_operator = aliased(Operator)
_source = aliased(Source)


def contact_rows(
    session: Session, filters: ContactFilters, batch_size: int = BATCH_SIZE, style: CsvStyle = CsvStyle()
) -> Iterator[str]:
    """CSV chunks of the contacts matching `filters`, in the order of the list page.

    Newest first; the unassigned queue oldest first (keyset on created_at, id).
    """
    queue = filters.status == "unassigned"
    iso = _timestamps(session, style)
    word = {code: style.statuses.get(code, code) for code in STATUSES}
    status = case(
        (Contact.is_active.is_(False), word["closed"]),
        (Contact.operator_id.is_(None), word["unassigned"]),
        else_=word["assigned"],
    )
    # The words in the statement too: the database hands over each row ready to write.
    outcome = Contact.outcome
    if style.outcomes:
        outcome = case(style.outcomes, value=Contact.outcome, else_=Contact.outcome)
    base = _filtered(
        select(  # in CONTACT_COLUMNS order
            Contact.id, iso(Contact.created_at), status, _source.name, _operator.name,
            Contact.lead_id, _lead.name, _lead.phone, _lead.email, _lead.external_id, Contact.name,
            Contact.message, iso(Contact.assigned_at), iso(Contact.closed_at),
            outcome,  # then notes and last_note, from _notes_of
            Contact.utm, Contact.page_url, Contact.form_fields, Contact.warnings,  # spread by _contact_row
        )
        .join(_source, _source.id == Contact.source_id)
        .join(_lead, _lead.id == Contact.lead_id)
        .outerjoin(_operator, _operator.id == Contact.operator_id),
        filters,
        session,
    )
    if queue:
        base = base.order_by(Contact.created_at.asc(), Contact.id.asc())
    else:
        base = base.order_by(Contact.id.desc())

    def page(conn, last_id, size):
        query = base
        if last_id is not None:
            if queue:
                pivot = select(Contact.created_at).where(Contact.id == last_id).scalar_subquery()
                query = query.where(or_(
                    Contact.created_at > pivot, and_(Contact.created_at == pivot, Contact.id > last_id)
                ))
            else:
                query = query.where(Contact.id < last_id)
        rows = conn.execute(query.limit(size)).all()
        notes = _notes_of(conn, [row[0] for row in rows]) if rows else {}
        return [_contact_row(row, notes.get(row[0], _NO_NOTES)) for row in rows]

    return _chunks(_batches(session, page, batch_size), CONTACT_COLUMNS, style)


_NO_NOTES = (0, None)


def _notes_of(conn, contact_ids: list[int]) -> dict[int, tuple[int, str]]:
    """{contact id: (number of notes, the latest one's text)} of a batch's contacts that have notes: one
    statement (an index range per contact, ix_contact_notes_contact_id)."""
    counted = (
        select(
            ContactNote.contact_id,
            func.count(ContactNote.id).label("notes"),
            func.max(ContactNote.id).label("last_id"),
        )
        .where(ContactNote.contact_id.in_(contact_ids))
        .group_by(ContactNote.contact_id)
        .subquery()
    )
    latest = select(counted.c.contact_id, counted.c.notes, ContactNote.text).join(
        ContactNote, ContactNote.id == counted.c.last_id
    )
    return {contact_id: (count, text) for contact_id, count, text in conn.execute(latest)}


def _contact_row(row, notes: tuple[int, str | None]) -> tuple:
    """A selected row with its notes and its site form columns spread into CONTACT_COLUMNS."""
    *head, utm, page_url, form_fields, warnings = row
    if utm is None and form_fields is None and warnings is None:  # most contacts: nothing to spread
        return (*head, *notes, *_NO_UTM, page_url, None, None)
    return (
        *head, *notes, *_utm_cells(utm), page_url, _form_fields_cell(form_fields), _warnings_cell(warnings)
    )


# --- leads -------------------------------------------------------------------


def lead_rows(
    session: Session, q: str | None, region: str, batch_size: int = BATCH_SIZE, style: CsvStyle = CsvStyle()
) -> Iterator[str]:
    """CSV chunks of the leads the search `q` finds (every lead without one), newest first.

    Raises ValidationError at once (before any chunk) for a query that is too long.
    """
    condition = lead_search_condition(session, q, region)
    iso = _timestamps(session, style)
    # The marks of the lead's earliest contact that has any: part of the same statement, an index
    # look-up per lead (ix_contacts_lead_id), so a batch still costs two statements.
    first_utm = (
        select(Contact.utm)
        .where(Contact.lead_id == Lead.id, Contact.utm.is_not(None), Contact.utm != {})
        .order_by(Contact.created_at, Contact.id)
        .limit(1)
        .scalar_subquery()
    )
    base = select(
        Lead.id, iso(Lead.created_at), Lead.name, Lead.phone, Lead.email, Lead.external_id,
        first_utm,
    )
    if condition is not None:
        base = base.where(condition)
    base = base.order_by(Lead.id.desc())
    newest = iso(func.max(Contact.created_at))

    def page(conn, last_id, size):
        query = base if last_id is None else base.where(Lead.id < last_id)
        leads = conn.execute(query.limit(size)).all()
        if not leads:
            return leads
        # Contact counts of this batch only: one indexed GROUP BY per batch.
        stats = {
            lead_id: (count, last)
            for lead_id, count, last in conn.execute(
                select(Contact.lead_id, func.count(Contact.id), newest)
                .where(Contact.lead_id.in_([r[0] for r in leads]))
                .group_by(Contact.lead_id)
            )
        }
        return [(*r[:-1], *stats.get(r[0], (0, None)), *_utm_cells(r[-1])) for r in leads]

    return _chunks(_batches(session, page, batch_size), LEAD_COLUMNS, style)
