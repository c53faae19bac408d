"""violations.rule_title / rule_clause / rule_excerpt: the rule a violation breaks, like a hazard's (0009)

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("violations") as batch:
        batch.add_column(sa.Column("rule_title", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("rule_clause", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("rule_excerpt", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("violations") as batch:
        batch.drop_column("rule_excerpt")
        batch.drop_column("rule_clause")
        batch.drop_column("rule_title")
