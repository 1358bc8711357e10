"""search_indexed: SQLite knows what its search tables hold by one id per table, not by a queue

0010 queued the id of every new contact and lead in `<table>_pending` from
the insert's own transaction: two more rows and B-trees written per webhook
call. Here the queue gives way to one number per search table,
`search_indexed.up_to`: every row with a higher id is still to be indexed
(ids only grow), so a new row costs its transaction nothing.
crm_web/services/search.py indexes the rows above it and raises it, in one
transaction, before every search and with every batch of delivery rows.
Changing or removing a row above it leaves the index alone (the row is
indexed with its values then); at or below it, the index follows as before.
A new row at or below it (SQLite hands out the highest id again once its
row is deleted) is indexed at once by its trigger.
PostgreSQL: nothing (its GIN indexes gather new entries by themselves).

Revision ID: 0011_search_indexed_up_to
Revises: 0010_search_pending
Create Date: 2026-12-05 17:30:00

"""

from alembic import op

revision = "0011_search_indexed_up_to"
down_revision = "0010_search_pending"
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
    op.execute("CREATE TABLE search_indexed (name VARCHAR(32) PRIMARY KEY, up_to INTEGER NOT NULL)")
    for table, (source, columns) in TABLES.items():
        names, insert, delete = _statements(table, columns)
        # What 0010 still queues goes into the index first: then every row up to the highest id is in.
        op.execute(
            f"INSERT INTO {table} (rowid, {names}) SELECT s.id, {_values('s', columns)} FROM {source} s "
            f"JOIN {table}_pending p ON p.id = s.id WHERE {_present('s', columns)}"
        )
        op.execute(f"INSERT INTO search_indexed (name, up_to) SELECT '{table}', coalesce(max(id), 0) FROM {source}")
        _drop_triggers(table)
        op.execute(f"DROP TABLE {table}_pending")
        up_to = f"(SELECT up_to FROM search_indexed WHERE name = '{table}')"
        op.execute(
            f"CREATE TRIGGER {table}_insert AFTER INSERT ON {source} WHEN new.id <= {up_to} "
            f"BEGIN {insert}; END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_delete AFTER DELETE ON {source} WHEN old.id <= {up_to} "
            f"BEGIN {delete}; END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_update AFTER UPDATE OF {names} ON {source} WHEN old.id <= {up_to} "
            f"BEGIN {delete}; {insert}; END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        return
    for table, (source, columns) in TABLES.items():
        names, insert, delete = _statements(table, columns)
        indexed = f"NOT EXISTS (SELECT 1 FROM {table}_pending WHERE id = old.id)"
        # 0010's queue: the rows above the mark.
        op.execute(f"CREATE TABLE {table}_pending (id INTEGER PRIMARY KEY)")
        op.execute(
            f"INSERT INTO {table}_pending (id) SELECT s.id FROM {source} s "
            f"WHERE s.id > (SELECT up_to FROM search_indexed WHERE name = '{table}') AND {_present('s', columns)}"
        )
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
    op.execute("DROP TABLE search_indexed")
