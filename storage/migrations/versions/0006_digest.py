"""digests: per-branch digest schedules; deliveries may carry a document (the monthly Excel file);
indexes for a branch's period (acks by branch and day, points and questions by member and time)

Revision ID: 0006_digest
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_digest"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_schedules",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("weekly_on", sa.Boolean(), nullable=False),
        sa.Column("weekly_day", sa.Integer(), nullable=False),
        sa.Column("weekly_at", sa.String(length=5), nullable=False),
        sa.Column("monthly_on", sa.Boolean(), nullable=False),
        sa.Column("monthly_day", sa.Integer(), nullable=False),
        sa.Column("monthly_at", sa.String(length=5), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], name=op.f("fk_digest_schedules_branch_id_branches"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("branch_id", name=op.f("pk_digest_schedules")),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("document", sa.String(length=512), nullable=True))
    # The digests read one branch and one period: these keep that independent of the years of history.
    op.create_index("ix_daily_acks_branch_day", "daily_acks", ["branch_id", "day"])
    op.create_index("ix_points_ledger_member_at", "points_ledger", ["member_id", "at"])
    op.create_index("ix_questions_member_asked", "questions", ["member_id", "asked_at"])


def downgrade() -> None:
    op.drop_index("ix_questions_member_asked", "questions")
    op.drop_index("ix_points_ledger_member_at", "points_ledger")
    op.drop_index("ix_daily_acks_branch_day", "daily_acks")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("document")
    op.drop_table("digest_schedules")
