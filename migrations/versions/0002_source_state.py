"""What `sync` remembers about each upstream source between runs.

Revision ID: 0002_source_state
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_source_state"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("last_attempt", sa.DateTime(), nullable=True),
        sa.Column("last_success", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("story_ids", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_source_state"),
    )


def downgrade() -> None:
    op.drop_table("source_state")
