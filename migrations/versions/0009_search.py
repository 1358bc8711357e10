"""search: indexes for the search box of /contacts and /leads (any letter case, parts of words, phone digits)

PostgreSQL: pg_trgm and GIN trigram indexes on the folded text of a lead
(name and email), of a contact (name and message) and on the lead's phone.
SQLite: contentless FTS5 tables with the trigram tokenizer, kept in step by
triggers, filled from the existing rows. The expressions must stay those of
crm_web/services/search.py (the planner only uses an index for the same
expression; tests/services/test_search_plans.py checks it).

Revision ID: 0009_search
Revises: 0008_user_timezone
Create Date: 2026-12-05 11:00:00

"""

from alembic import op

revision = "0009_search"
down_revision = "0008_user_timezone"
branch_labels = None
depends_on = None

_UPPER = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯё"
_LOWER = "абвгдеежзийклмнопрстуфхцчшщъыьэюяе"


def _pg_folded(first, second):
    return (
        f"translate(lower(coalesce({first}, '') || chr(10) || coalesce({second}, '')), "
        f"'{_UPPER}', '{_LOWER}')"
    )


PG_INDEXES = {
    "ix_leads_search": f"leads USING gin (({_pg_folded('name', 'email')}) gin_trgm_ops)",
    "ix_leads_phone_search": "leads USING gin (phone gin_trgm_ops)",
    "ix_contacts_search": f"contacts USING gin (({_pg_folded('name', 'message')}) gin_trgm_ops)",
}


def _sqlite_folded(value):
    # The trigram tokenizer folds case; `ё` is read as `е` here.
    return f"replace(replace({value}, 'ё', 'е'), 'Ё', 'Е')"


# Contentless tables (they keep only the index; no column sizes either, which only ranking reads): a
# row is removed by the 'delete' command given the values it was indexed with, so the triggers index
# and remove exactly the same folded values.
SQLITE_TABLES = {
    "leads_search": ("leads", ("name", "email", "phone")),
    "contacts_search": ("contacts", ("name", "message")),
}


def _values(row, columns):
    return ", ".join(_sqlite_folded(f"{row}.{column}") for column in columns)


def _present(row, columns):
    return " OR ".join(f"{row}.{column} IS NOT NULL" for column in columns)


def _sqlite_statements():
    for table, (source, columns) in SQLITE_TABLES.items():
        names = ", ".join(columns)
        yield (
            f"CREATE VIRTUAL TABLE {table} USING fts5({names}, content='', columnsize=0, "
            "tokenize='trigram case_sensitive 0')"
        )
        insert = (
            f"INSERT INTO {table} (rowid, {names}) "
            f"SELECT new.id, {_values('new', columns)} WHERE {_present('new', columns)};"
        )
        delete = (
            f"INSERT INTO {table} ({table}, rowid, {names}) "
            f"SELECT 'delete', old.id, {_values('old', columns)} WHERE {_present('old', columns)};"
        )
        yield f"CREATE TRIGGER {table}_insert AFTER INSERT ON {source} BEGIN {insert} END"
        yield f"CREATE TRIGGER {table}_delete AFTER DELETE ON {source} BEGIN {delete} END"
        yield (
            f"CREATE TRIGGER {table}_update AFTER UPDATE OF {names} ON {source} "
            f"BEGIN {delete} {insert} END"
        )
        # The rows already there.
        yield (
            f"INSERT INTO {table} (rowid, {names}) SELECT id, {_values(source, columns)} FROM {source} "
            f"WHERE {_present(source, columns)}"
        )


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, definition in PG_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {definition}")
    else:
        for statement in _sqlite_statements():
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in PG_INDEXES:
            op.execute(f"DROP INDEX {name}")
        # The extension stays: other objects of the database may use it.
    else:
        for table in SQLITE_TABLES:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {table}_{event}")
            op.execute(f"DROP TABLE {table}")
