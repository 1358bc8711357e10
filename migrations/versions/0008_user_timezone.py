"""a user's own time zone for the pages (None: the app's CRM_TIMEZONE)

Revision ID: 0008_user_timezone
Revises: 0007_deliveries_pruned
Create Date: 2026-12-05 10:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0008_user_timezone"
down_revision = "0007_deliveries_pruned"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("timezone")
