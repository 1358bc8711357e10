"""recent deliveries pruned in batches by the app, not by a trigger on every insert

Revision ID: 0007_deliveries_pruned
Revises: 0006_team_report
Create Date: 2026-12-05 08:30:00

"""
from alembic import op

revision = "0007_deliveries_pruned"
down_revision = "0006_team_report"
branch_labels = None
depends_on = None

# As migration 0004 created it.
KEEP_RECENT = (
    "DELETE FROM webhook_deliveries WHERE source_id = NEW.source_id AND id < "
    "(SELECT id FROM webhook_deliveries WHERE source_id = NEW.source_id "
    "ORDER BY id DESC LIMIT 1 OFFSET 49)"
)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS webhook_deliveries_keep_recent ON webhook_deliveries")
        op.execute("DROP FUNCTION IF EXISTS webhook_deliveries_keep_recent()")
    else:
        op.execute("DROP TRIGGER IF EXISTS webhook_deliveries_keep_recent")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION webhook_deliveries_keep_recent() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {KEEP_RECENT}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER webhook_deliveries_keep_recent AFTER INSERT ON webhook_deliveries "
            "FOR EACH ROW EXECUTE FUNCTION webhook_deliveries_keep_recent()"
        )
    else:
        op.execute(
            "CREATE TRIGGER webhook_deliveries_keep_recent AFTER INSERT ON webhook_deliveries "
            f"BEGIN {KEEP_RECENT}; END"
        )
