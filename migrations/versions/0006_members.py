"""Member-only records and members (docs/members.md): `members` flags on stories and
topics (the records' `access`), and the members, their secrets' hashes and sightings.

Revision ID: 0006_members
Revises: 0005_podcast_episodes
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_members"
down_revision = "0005_podcast_episodes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No record before this revision has `access`: every flag starts false. A plain ADD
    # COLUMN, not a batch: on SQLite a batch copies the table and drops the old one, and
    # dropping `stories` would cascade to every row of story_topics.
    for table in ("stories", "topics"):
        op.add_column(table, sa.Column("members", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=True),
        sa.Column("revoked", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
    )
    op.create_table(
        "member_secrets",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("replaced", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("hash", name="pk_member_secrets"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE",
                                name="fk_member_secrets_member_id_members"),
    )
    op.create_index("ix_member_secrets_member_id", "member_secrets", ["member_id"])
    op.create_table(
        "member_sightings",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "kind", "value", name="pk_member_sightings"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE",
                                name="fk_member_sightings_member_id_members"),
    )


def downgrade() -> None:
    op.drop_table("member_sightings")
    op.drop_index("ix_member_secrets_member_id", table_name="member_secrets")
    op.drop_table("member_secrets")
    op.drop_table("members")
    for table in ("topics", "stories"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("members")
