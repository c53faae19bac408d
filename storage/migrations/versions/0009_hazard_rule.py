"""hazards.rule_title / rule_clause / rule_excerpt: the rule a hazard breaks (issue 13 item 6)

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hazards") as batch:
        batch.add_column(sa.Column("rule_title", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("rule_clause", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("rule_excerpt", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hazards") as batch:
        batch.drop_column("rule_excerpt")
        batch.drop_column("rule_clause")
        batch.drop_column("rule_title")
