"""audit trail; contact first opened; source CORS and thank-you URL; user locale

Revision ID: 0002_audit
Revises: 0001_initial
Create Date: 2026-11-25 13:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0002_audit"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=400), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_subject", "audit_events", ["subject_type", "subject_id", "id"])
    op.create_index("ix_audit_events_action", "audit_events", ["action", "id"])
    op.create_index("ix_audit_events_actor", "audit_events", ["actor_user_id", "id"])
    op.create_index("ix_audit_events_created_at", "audit_events", ["created_at"])
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("first_opened_at", sa.DateTime(timezone=True), nullable=True))
    # Contacts assigned before this upgrade count as opened when assigned:
    # turning CRM_RETURN_AFTER_MINUTES on must not take back work in progress.
    op.execute(
        "UPDATE contacts SET first_opened_at = assigned_at WHERE is_active AND operator_id IS NOT NULL"
    )
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("allowed_origins", sa.Text(), nullable=True))
        batch.add_column(sa.Column("thank_you_url", sa.String(length=2048), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locale")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("thank_you_url")
        batch.drop_column("allowed_origins")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("first_opened_at")
    op.drop_index("ix_audit_events_created_at", table_name="audit_events")
    op.drop_index("ix_audit_events_actor", table_name="audit_events")
    op.drop_index("ix_audit_events_action", table_name="audit_events")
    op.drop_index("ix_audit_events_subject", table_name="audit_events")
    op.drop_table("audit_events")
