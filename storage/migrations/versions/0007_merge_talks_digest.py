"""merge the talks and digest heads (both built on 0005 in parallel; no schema change of its own)

Revision ID: 0007
Revises: 0006_talks, 0006_digest
"""

revision = "0007"
down_revision = ("0006_talks", "0006_digest")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
