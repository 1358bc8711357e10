"""search_pending: SQLite indexes new contacts and leads for search in batches, not one by one

A new contact or lead no longer goes into its FTS5 table in its own
transaction: the insert trigger only queues its id (`<table>_pending`), and
crm_web/services/search.py indexes the queue in one transaction, before
every search and after every batch of delivery rows. A change or removal of
a queued row leaves the index alone (the queue is indexed with the row's
values then); of an indexed row, it updates the index as before.
PostgreSQL: nothing (its GIN indexes gather new entries by themselves).

Revision ID: 0010_search_pending
Revises: 0009_search
Create Date: 2026-12-05 15:00:00

"""

from alembic import op

revision = "0010_search_pending"
down_revision = "0009_search"
branch_labels = None
depends_on = None

TABLES = {
    "leads_search": ("leads", ("name", "email", "phone")),
    "contacts_search": ("contacts", ("name", "message")),
}


def _folded(value):
    return f"replace(replace({value}, 'ё', 'е'), 'Ё', 'Е')"


def _values(row, columns):
    return ", ".join(_folded(f"{row}.{column}") for column in columns)


def _present(row, columns):
    return "(" + " OR ".join(f"{row}.{column} IS NOT NULL" for column in columns) + ")"


def _statements(table, columns):
    names = ", ".join(columns)
    insert = (
        f"INSERT INTO {table} (rowid, {names}) "
        f"SELECT new.id, {_values('new', columns)} WHERE {_present('new', columns)}"
    )
    delete = (
        f"INSERT INTO {table} ({table}, rowid, {names}) "
        f"SELECT 'delete', old.id, {_values('old', columns)} WHERE {_present('old', columns)}"
    )
    return names, insert, delete


def _drop_triggers(table):
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER {table}_{event}")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        return
    for table, (source, columns) in TABLES.items():
        names, insert, delete = _statements(table, columns)
        indexed = f"NOT EXISTS (SELECT 1 FROM {table}_pending WHERE id = old.id)"
        op.execute(f"CREATE TABLE {table}_pending (id INTEGER PRIMARY KEY)")
        _drop_triggers(table)
        op.execute(
            f"CREATE TRIGGER {table}_insert AFTER INSERT ON {source} BEGIN "
            f"INSERT OR IGNORE INTO {table}_pending (id) SELECT new.id WHERE {_present('new', columns)}; END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_delete AFTER DELETE ON {source} BEGIN "
            f"{delete} AND {indexed}; DELETE FROM {table}_pending WHERE id = old.id; END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_update AFTER UPDATE OF {names} ON {source} BEGIN "
            f"{delete} AND {indexed}; {insert} AND {indexed}; END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        return
    for table, (source, columns) in TABLES.items():
        names, insert, delete = _statements(table, columns)
        # What is queued goes into the index first, as 0009's triggers would have put it.
        op.execute(
            f"INSERT INTO {table} (rowid, {names}) SELECT s.id, {_values('s', columns)} FROM {source} s "
            f"JOIN {table}_pending p ON p.id = s.id WHERE {_present('s', columns)}"
        )
        _drop_triggers(table)
        op.execute(f"DROP TABLE {table}_pending")
        op.execute(f"CREATE TRIGGER {table}_insert AFTER INSERT ON {source} BEGIN {insert}; END")
        op.execute(f"CREATE TRIGGER {table}_delete AFTER DELETE ON {source} BEGIN {delete}; END")
        op.execute(
            f"CREATE TRIGGER {table}_update AFTER UPDATE OF {names} ON {source} "
            f"BEGIN {delete}; {insert}; END"
        )
