"""site forms: a source's form format, field map and VK confirmation; what a
contact's form sent besides the five fields, its UTM marks, page address and
warnings; the webhook's recent deliveries per source

Revision ID: 0004_site_forms
Revises: 0003_sessions
Create Date: 2026-12-05 05:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0004_site_forms"
down_revision = "0003_sessions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sources") as batch:
        batch.add_column(
            sa.Column("form_format", sa.String(length=16), server_default="standard", nullable=False)
        )
        batch.add_column(sa.Column("field_map", sa.Text(), nullable=True))
        batch.add_column(sa.Column("vk_confirmation", sa.String(length=64), nullable=True))
        batch.create_check_constraint(
            op.f("ck_sources_form_format_known"), "form_format IN ('standard', 'site_form', 'vk')"
        )
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("form_fields", sa.Text(), nullable=True))
        batch.add_column(sa.Column("utm", sa.Text(), nullable=True))
        batch.add_column(sa.Column("utm_source", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("page_url", sa.String(length=2048), nullable=True))
        batch.add_column(sa.Column("warnings", sa.Text(), nullable=True))
    op.create_index(
        "ix_contacts_utm_source", "contacts", ["utm_source", "id"],
        sqlite_where=sa.text("utm_source IS NOT NULL"),
        postgresql_where=sa.text("utm_source IS NOT NULL"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("recognised", sa.Text(), nullable=True),
        sa.Column("kept", sa.Text(), nullable=True),
        sa.Column("warnings", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"],
            name=op.f("fk_webhook_deliveries_source_id_sources"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"],
            name=op.f("fk_webhook_deliveries_contact_id_contacts"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_source_id", "webhook_deliveries", ["source_id", "id"])
    # Each source keeps its last 50 deliveries (services/deliveries.py, RECENT):
    # every insert drops the source's older ones, in the inserting statement.
    keep_recent = (
        "DELETE FROM webhook_deliveries WHERE source_id = NEW.source_id AND id < "
        "(SELECT id FROM webhook_deliveries WHERE source_id = NEW.source_id "
        "ORDER BY id DESC LIMIT 1 OFFSET 49)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION webhook_deliveries_keep_recent() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {keep_recent}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER webhook_deliveries_keep_recent AFTER INSERT ON webhook_deliveries "
            "FOR EACH ROW EXECUTE FUNCTION webhook_deliveries_keep_recent()"
        )
    else:
        op.execute(
            "CREATE TRIGGER webhook_deliveries_keep_recent AFTER INSERT ON webhook_deliveries "
            f"BEGIN {keep_recent}; END"
        )


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS webhook_deliveries_keep_recent" + (
        " ON webhook_deliveries" if op.get_bind().dialect.name == "postgresql" else ""
    ))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS webhook_deliveries_keep_recent()")
    op.drop_index("ix_webhook_deliveries_source_id", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_contacts_utm_source", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        for column in ("warnings", "page_url", "utm_source", "utm", "form_fields"):
            batch.drop_column(column)
    with op.batch_alter_table("sources") as batch:
        batch.drop_constraint(op.f("ck_sources_form_format_known"), type_="check")
        for column in ("vk_confirmation", "field_map", "form_format"):
            batch.drop_column(column)
