"""webhook_deliveries without foreign keys: a delivery row is a log line, checked by no trigger

Each delivery row's two foreign keys cost a trigger per row that looks up
and locks its contact and its source (on PostgreSQL the lock writes the
contact's row again): about 20 µs per row of a batch's COPY, twice what
the row itself costs, and most of what the delivery log still took from the
intake (docs/performance.md). The rows are written only for a source whose
token was just checked and with the id of the contact the same request
stored, and the app deletes neither; the source's page reads a row's
contact by a join that finds none for a contact that is gone.
Downgrading puts the keys back, after clearing what they would refuse.

Revision ID: 0013_deliveries_without_fks
Revises: 0012_outcome_check_one_array
Create Date: 2026-12-05 21:00:00

"""

from alembic import op

revision = "0013_deliveries_without_fks"
down_revision = "0012_outcome_check_one_array"
branch_labels = None
depends_on = None

TABLE = "webhook_deliveries"
SOURCE_KEY = "fk_webhook_deliveries_source_id_sources"
CONTACT_KEY = "fk_webhook_deliveries_contact_id_contacts"


def upgrade():
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(op.f(SOURCE_KEY), type_="foreignkey")
        batch.drop_constraint(op.f(CONTACT_KEY), type_="foreignkey")


def downgrade():
    op.execute(f"DELETE FROM {TABLE} WHERE source_id NOT IN (SELECT id FROM sources)")
    op.execute(
        f"UPDATE {TABLE} SET contact_id = NULL "
        "WHERE contact_id IS NOT NULL AND contact_id NOT IN (SELECT id FROM contacts)"
    )
    with op.batch_alter_table(TABLE) as batch:
        batch.create_foreign_key(op.f(SOURCE_KEY), "sources", ["source_id"], ["id"], ondelete="CASCADE")
        batch.create_foreign_key(
            op.f(CONTACT_KEY), "contacts", ["contact_id"], ["id"], ondelete="SET NULL"
        )
