"""team report: an index of the contacts by assignment time, holding what the report reads

Revision ID: 0006_team_report
Revises: 0005_outcomes_notes
Create Date: 2026-12-05 08:00:00

"""
from alembic import op


revision = "0006_team_report"
down_revision = "0005_outcomes_notes"
branch_labels = None
depends_on = None

# The report reads a period of assignments and, for each, its operator, when
# it was first opened and closed, and its outcome: all in the index, so that
# neither engine visits the table (crm_web/services/team_report.py).
COLUMNS = ["assigned_at", "operator_id", "first_opened_at", "closed_at", "outcome"]


def upgrade():
    op.create_index("ix_contacts_assigned_at", "contacts", COLUMNS)


def downgrade():
    op.drop_index("ix_contacts_assigned_at", table_name="contacts")
