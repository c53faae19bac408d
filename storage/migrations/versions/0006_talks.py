"""talks: talk check-ins (谈心谈话, safety talks) with participants, concerns and follow-ups; the committee
member flag on members

Revision ID: 0006_talks
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = "0006_talks"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_committee", sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table("talks",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("branch_id", sa.Integer(), nullable=False),
    sa.Column("author_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("held_on", sa.Date(), nullable=False),
    sa.Column("place", sa.String(length=100), nullable=True),
    sa.Column("topic", sa.String(length=200), nullable=False),
    sa.Column("agreement", sa.Text(), nullable=True),
    sa.Column("form_token", sa.String(length=40), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["author_id"], ["members.id"], name=op.f("fk_talks_author_id_members"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], name=op.f("fk_talks_branch_id_branches"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_talks")),
    sa.UniqueConstraint("form_token", name=op.f("uq_talks_form_token")),
    )
    with op.batch_alter_table("talks", schema=None) as batch_op:
        batch_op.create_index("ix_talks_branch_held", ["branch_id", "held_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_talks_author_id"), ["author_id"], unique=False)

    op.create_table("talk_participants",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("talk_id", sa.Integer(), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=True),
    sa.Column("name", sa.String(length=40), nullable=False),
    sa.Column("confirmed_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_talk_participants_member_id_members"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["talk_id"], ["talks.id"], name=op.f("fk_talk_participants_talk_id_talks"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_talk_participants")),
    sa.UniqueConstraint("talk_id", "member_id", name="uq_talk_participants_talk_member"),
    )
    with op.batch_alter_table("talk_participants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talk_participants_talk_id"), ["talk_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talk_participants_member_id"), ["member_id"], unique=False)

    op.create_table("talk_concerns",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("talk_id", sa.Integer(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("tag", sa.String(length=16), nullable=False),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Column("secretary_only", sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(["talk_id"], ["talks.id"], name=op.f("fk_talk_concerns_talk_id_talks"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_talk_concerns")),
    )
    with op.batch_alter_table("talk_concerns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talk_concerns_talk_id"), ["talk_id"], unique=False)

    op.create_table("talk_follow_ups",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("talk_id", sa.Integer(), nullable=False),
    sa.Column("branch_id", sa.Integer(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("what", sa.Text(), nullable=False),
    sa.Column("owner_id", sa.Integer(), nullable=False),
    sa.Column("due_date", sa.Date(), nullable=False),
    sa.Column("done_at", sa.DateTime(), nullable=True),
    sa.Column("done_note", sa.Text(), nullable=True),
    sa.Column("done_by", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], name=op.f("fk_talk_follow_ups_branch_id_branches"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["done_by"], ["members.id"], name=op.f("fk_talk_follow_ups_done_by_members"), ondelete="SET NULL"),
    sa.ForeignKeyConstraint(["owner_id"], ["members.id"], name=op.f("fk_talk_follow_ups_owner_id_members"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["talk_id"], ["talks.id"], name=op.f("fk_talk_follow_ups_talk_id_talks"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_talk_follow_ups")),
    )
    with op.batch_alter_table("talk_follow_ups", schema=None) as batch_op:
        batch_op.create_index("ix_talk_follow_ups_branch_open", ["branch_id", "done_at", "due_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_talk_follow_ups_talk_id"), ["talk_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talk_follow_ups_owner_id"), ["owner_id"], unique=False)


def downgrade() -> None:
    op.drop_table("talk_follow_ups")
    op.drop_table("talk_concerns")
    op.drop_table("talk_participants")
    op.drop_table("talks")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("is_committee")
