"""Stories, their topics, topics and the store's counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("published", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("written", sa.DateTime(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
    )
    op.create_index("ix_stories_published_id", "stories", ["published", "id"])
    op.create_table(
        "story_topics",
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("story_id", sa.String(100), nullable=False),
        sa.Column("published", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], name="fk_story_topics_story_id_stories", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("topic", "story_id", name="pk_story_topics"),
    )
    op.create_index(
        "ix_story_topics_topic_published_story_id", "story_topics", ["topic", "published", "story_id"]
    )
    op.create_index("ix_story_topics_story_id", "story_topics", ["story_id"])
    op.create_table(
        "topics",
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("described", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("slug", name="pk_topics"),
    )
    counters = op.create_table(
        "counters",
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_counters"),
    )
    op.bulk_insert(counters, [{"key": "stories", "value": 0}])


def downgrade() -> None:
    op.drop_table("counters")
    op.drop_table("topics")
    op.drop_index("ix_story_topics_story_id", "story_topics")
    op.drop_index("ix_story_topics_topic_published_story_id", "story_topics")
    op.drop_table("story_topics")
    op.drop_index("ix_stories_published_id", "stories")
    op.drop_table("stories")
