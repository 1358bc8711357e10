"""outcomes and notes: how a contact ended, and the notes staff write on it

Revision ID: 0005_outcomes_notes
Revises: 0004_site_forms
Create Date: 2026-12-05 07:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0005_outcomes_notes"
down_revision = "0004_site_forms"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch.create_check_constraint(
            op.f("ck_contacts_outcome_known"),
            "outcome IS NULL OR outcome IN ('done', 'no_answer', 'spam', 'duplicate')",
        )
    # Contacts closed before outcomes existed were closed as done.
    op.execute("UPDATE contacts SET outcome = 'done' WHERE NOT is_active")
    # The outcome filter (closed contacts only: the intake writes no entry to it).
    op.create_index(
        "ix_contacts_outcome", "contacts", ["outcome", "id"],
        sqlite_where=sa.text("outcome IS NOT NULL"),
        postgresql_where=sa.text("outcome IS NOT NULL"),
    )
    op.create_table(
        "contact_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_notes_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_contact_notes_author_id_users"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_notes")),
    )
    op.create_index("ix_contact_notes_contact_id", "contact_notes", ["contact_id", "id"])


def downgrade():
    op.drop_index("ix_contact_notes_contact_id", table_name="contact_notes")
    op.drop_table("contact_notes")
    op.drop_index("ix_contacts_outcome", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint(op.f("ck_contacts_outcome_known"), type_="check")
        batch.drop_column("outcome")
