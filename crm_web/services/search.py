"""The search box of /contacts and /leads (and `q` of their API lists), served by indexes.

What a query asks for is decided in domain/search.py; here it becomes SQL
that the search indexes of migration 0009 serve, on each database:

* PostgreSQL: GIN trigram indexes (pg_trgm) on the folded text of a lead
  (name and email) and of a contact (name and message), and on the lead's
  phone. The conditions below repeat the indexes' expressions exactly, or
  the planner cannot use them; `lower()` follows the database's locale, so
  Cyrillic capitals and `ё` are folded by `translate()` as well, whatever it is.
* SQLite: contentless FTS5 tables with the trigram tokenizer (it folds case,
  Cyrillic too), with `ё` written as `е`; a quoted phrase of trigrams is a
  substring match. A new row is not indexed in its own transaction: the
  rows above an id (`search_indexed.up_to`, migration 0011) are still to
  be indexed, and `index_pending` indexes them in one go and raises it,
  before every search (so a search finds every row committed before it)
  and with every batch of delivery rows (so few wait). Indexing rows one by
  one cost a fifth of the intake's throughput, and queueing their ids
  another few per cent (docs/performance.md).

Matching leads are read first (at most LEAD_IDS of them) and a contact
condition then names them by id: `lead_id IN (...)` is an index look-up the
planner can combine with the contact's own text index, where a subquery in
an OR would make it scan every contact.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, bindparam, false, literal_column, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..domain.search import SearchQuery
from ..models import Contact, Lead
from .tx import write_transaction

# Past this many matching leads a query is not selective: the contacts are
# then filtered by a subquery instead of a list of ids.
LEAD_IDS = 1_000

_UPPER = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯё"
_LOWER = "абвгдеежзийклмнопрстуфхцчшщъыьэюяе"


def _pg_folded(first: str, second: str) -> str:
    """The folded text of two columns, as the PostgreSQL indexes of migration 0009 hold it."""
    return (
        f"translate(lower(coalesce({first}, '') || chr(10) || coalesce({second}, '')), "
        f"'{_UPPER}', '{_LOWER}')"
    )


PG_LEAD_TEXT = _pg_folded("leads.name", "leads.email")
PG_CONTACT_TEXT = _pg_folded("contacts.name", "contacts.message")


def _like(text_: str):
    """A LIKE pattern of `text_` anywhere, written into the statement (PostgreSQL).

    As a literal, not a parameter: a prepared statement's generic plan cannot
    know how selective the pattern is, and may scan the contacts newest first
    to the end for a word that only a few of them hold.
    """
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return bindparam(None, f"%{escaped}%", type_=String, literal_execute=True)


# The SQLite search tables (migrations 0009 to 0011): the table indexed, its columns.
SQLITE_SEARCH = {
    "leads_search": ("leads", ("name", "email", "phone")),
    "contacts_search": ("contacts", ("name", "message")),
}


SQLITE_SEARCH_MARKS = "search_indexed"  # per search table, the id it holds every row up to


def _up_to(table: str) -> str:
    """The highest id the search table holds everything up to (migration 0011)."""
    return f"(SELECT up_to FROM {SQLITE_SEARCH_MARKS} WHERE name = '{table}')"


def _sqlite_index_statements() -> list[str]:
    statements = []
    for table, (source, columns) in SQLITE_SEARCH.items():
        names = ", ".join(columns)
        # Folded as the triggers of migration 0011 fold what they remove: `ё` as `е`.
        values = ", ".join(f"replace(replace(s.{c}, 'ё', 'е'), 'Ё', 'Е')" for c in columns)
        present = " OR ".join(f"s.{c} IS NOT NULL" for c in columns)
        highest = f"(SELECT max(id) FROM {source})"
        statements.append(
            f"INSERT INTO {table} (rowid, {names}) SELECT s.id, {values} FROM {source} s "
            f"WHERE s.id > {_up_to(table)} AND ({present})"
        )
        # Never lowered: a new row at or below the mark is indexed by its trigger.
        statements.append(
            f"UPDATE {SQLITE_SEARCH_MARKS} SET up_to = {highest} WHERE name = '{table}' AND up_to < {highest}"
        )
    return statements


SQLITE_INDEX_PENDING = _sqlite_index_statements()
SQLITE_ANY_PENDING = "SELECT " + " OR ".join(
    f"EXISTS (SELECT 1 FROM {source} WHERE id > {_up_to(table)})"
    for table, (source, _) in SQLITE_SEARCH.items()
)


def index_pending(conn: Connection) -> None:
    """SQLite: index the rows above the mark and raise it, inside the caller's write transaction
    (one writer at a time: no row comes between the two statements)."""
    for statement in SQLITE_INDEX_PENDING:
        conn.exec_driver_sql(statement)


def catch_up(session: Session) -> None:
    """SQLite: before a search, index what is waiting (if anything is), so that the search reads an
    index holding every row committed before it. PostgreSQL: nothing to do."""
    if _is_postgresql(session) or not session.scalar(text(SQLITE_ANY_PENDING)):
        return
    with write_transaction(session):
        index_pending(session.connection())


def _phrase(text_: str) -> str:
    """An FTS5 string: a phrase of trigrams, i.e. the text as a substring."""
    return '"' + text_.replace('"', '""') + '"'


def _fts(table: str, columns: str, text_: str):
    """Row ids of the SQLite search table `table` whose `columns` hold `text_`."""
    match = bindparam(None, f"{{{columns}}} : {_phrase(text_)}", type_=String)  # one of its own per use
    return select(literal_column("rowid")).select_from(text(table)).where(
        literal_column(table).op("MATCH")(match)
    )


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def newest_first_of_few(session: Session, id_column) -> tuple | None:
    """A search's newest-first order for when it matched few rows (an exact total), PostgreSQL.

    `ORDER BY id DESC LIMIT 50` tempts the planner to walk the primary key
    backwards until 50 rows match, which is quick when matches are spread
    evenly and takes seconds when they are all old (`client 12` at 300,000
    leads: 4.7 s). Ordered by `id + 0`, no index gives the order: the search
    index finds the few rows and they are sorted (60 ms). Many matches keep
    the walk, which then ends soon.
    """
    return ((id_column + 0).desc(),) if _is_postgresql(session) else None


def lead_condition(session: Session, query: SearchQuery) -> ColumnElement[bool]:
    """The leads `query` finds: an exact external id, a part of the name or email, or phone digits."""
    catch_up(session)
    conditions: list[ColumnElement[bool]] = [Lead.external_id == query.raw]
    found = _lead_identifiers(session, query)
    if found is not None:
        conditions.append(found)
    if query.searches_text:
        if _is_postgresql(session):
            conditions.append(literal_column(PG_LEAD_TEXT).like(_like(query.text), escape="\\"))
        else:
            conditions.append(Lead.id.in_(_fts("leads_search", "name email", query.text)))
    return or_(*conditions)


def _lead_identifiers(session: Session, query: SearchQuery) -> ColumnElement[bool] | None:
    """The leads whose phone `query` names (by digits or whole), else None."""
    if query.digits is None:
        return None
    if _is_postgresql(session):
        found = Lead.phone.like(_like(query.digits))
    else:
        found = Lead.id.in_(_fts("leads_search", "phone", query.digits))
    return or_(found, Lead.phone == query.phone) if query.phone else found


def _lead_email(session: Session, query: SearchQuery) -> ColumnElement[bool]:
    if _is_postgresql(session):
        # The lead's folded text holds the email; a contact search matches the lead's email, not its name.
        return Lead.email.like(_like(query.text), escape="\\") & literal_column(PG_LEAD_TEXT).like(
            _like(query.text), escape="\\"
        )
    return Lead.id.in_(_fts("leads_search", "email", query.text))


def contact_condition(session: Session, query: SearchQuery) -> ColumnElement[bool]:
    """The contacts `query` finds: by their own name or message, or their lead's phone or email."""
    catch_up(session)
    lead_side = _lead_identifiers(session, query)
    if lead_side is None and query.searches_text:
        lead_side = _lead_email(session, query)
    own = None
    if query.searches_text:
        if _is_postgresql(session):
            own = literal_column(PG_CONTACT_TEXT).like(_like(query.text), escape="\\")
        else:
            own = Contact.id.in_(_fts("contacts_search", "name message", query.text))
    conditions = [c for c in (own, _contacts_of_leads(session, lead_side)) if c is not None]
    return or_(*conditions) if conditions else false()


def _contacts_of_leads(session: Session, leads: ColumnElement[bool] | None) -> ColumnElement[bool] | None:
    if leads is None:
        return None
    found = select(Lead.id).where(leads)
    ids = list(session.scalars(found.limit(LEAD_IDS + 1)))
    if not ids:
        return None
    if len(ids) > LEAD_IDS:
        return Contact.lead_id.in_(found)
    return Contact.lead_id.in_(ids)


# What migrations 0009 and 0011 create beside the models (they cannot describe FTS5 tables or
# these expression indexes): left out when the schema is compared with the models.
SEARCH_TABLES = tuple(SQLITE_SEARCH)
SEARCH_INDEXES = ("ix_leads_search", "ix_leads_phone_search", "ix_contacts_search")


def described_by_models(_object, name, type_, _reflected, _compare_to) -> bool:
    """Alembic's include_object: False for the search tables (with FTS5's own) and indexes."""
    if type_ == "table":
        return not (name or "").startswith(SEARCH_TABLES) and name != SQLITE_SEARCH_MARKS
    if type_ == "index":
        return name not in SEARCH_INDEXES
    return True
