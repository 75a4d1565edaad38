"""Audience counts: the raw fetches of audio files (listeners as salted hashes, never
addresses) and the day's salt.

Revision ID: 0007_audience
Revises: 0005_podcast_episodes
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_audience"
down_revision = "0006_members"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audience_fetches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False,
                  autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("listener", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(500), nullable=False),
        sa.Column("episode", sa.String(1000), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("first_byte", sa.BigInteger(), nullable=False),
        sa.Column("last_byte", sa.BigInteger(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("byte_rate", sa.BigInteger(), nullable=True),
        sa.Column("leading", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audience_fetches"),
    )
    op.create_index("ix_audience_fetches_at", "audience_fetches", ["at"])
    op.create_table(
        "audience_salts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_audience_salts"),
    )


def downgrade() -> None:
    op.drop_table("audience_salts")
    op.drop_index("ix_audience_fetches_at", table_name="audience_fetches")
    op.drop_table("audience_fetches")
