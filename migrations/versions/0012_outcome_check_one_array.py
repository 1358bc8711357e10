"""contacts' outcome check on PostgreSQL: the outcomes as one array constant

PostgreSQL keeps a CHECK constraint as a stored expression and reads and
plans it again for every statement that writes the table. 0005's `outcome
IS NULL OR outcome IN (...)` is stored as an ARRAY[...] of four constants,
which that planning evaluates each time: about 20 µs of every contact's
INSERT, the intake's included (docs/performance.md). The same rule with the
list as one `text[]` constant costs a third of that. (NULL passes either
way: a CHECK refuses only what is false.) SQLite keeps 0005's.

Revision ID: 0012_outcome_check_one_array
Revises: 0011_search_indexed_up_to
Create Date: 2026-12-05 19:45:00

"""

from alembic import op

revision = "0012_outcome_check_one_array"
down_revision = "0011_search_indexed_up_to"
branch_labels = None
depends_on = None

NAME = "ck_contacts_outcome_known"
OUTCOMES = ("done", "no_answer", "spam", "duplicate")


def _replace(condition: str) -> None:
    op.drop_constraint(op.f(NAME), "contacts", type_="check")
    op.create_check_constraint(op.f(NAME), "contacts", condition)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _replace("outcome::text = ANY ('{" + ",".join(OUTCOMES) + "}'::text[])")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _replace("outcome IS NULL OR outcome IN (" + ", ".join(f"'{o}'" for o in OUTCOMES) + ")")
