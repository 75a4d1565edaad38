"""Which of a topic's stories are podcast episodes, indexed: podcast feeds pick their
episodes in the database instead of reading every story of the topic. And each topic's
number of stories, kept by every write: the index page no longer counts them.

Revision ID: 0005_podcast_episodes
Revises: 0004_topic_identity
Create Date: 2026-12-07
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005_podcast_episodes"
down_revision = "0004_topic_identity"
branch_labels = None
depends_on = None

INDEX = "ix_story_topics_topic_has_audio_published_story_id"
BATCH = 500


def _is_episode(record: dict) -> bool:
    # `Story.is_episode` as it stands at this revision, over the stored JSON: a migration
    # must mean the same thing whatever the model later becomes.
    return any(
        audio.get("downloadable", True) and audio.get("url") and audio.get("type") and audio.get("length")
        for audio in record.get("audio") or ()
    )


def upgrade() -> None:
    with op.batch_alter_table("story_topics") as batch:
        batch.add_column(sa.Column("has_audio", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    stories = sa.table("stories", sa.column("id", sa.String()), sa.column("record", sa.Text()))
    links = sa.table("story_topics", sa.column("topic", sa.String()),
                     sa.column("story_id", sa.String()), sa.column("has_audio", sa.Boolean()))
    conn = op.get_bind()
    # Every record parsed (no LIKE to skip those without audio: the tests replay this
    # migration's statements as text, where a "%" would be taken for a placeholder).
    rows = conn.execute(sa.select(stories.c.id, stories.c.record))
    episodes = [story_id for story_id, record in rows if _is_episode(json.loads(record))]
    for start in range(0, len(episodes), BATCH):
        conn.execute(links.update().where(links.c.story_id.in_(episodes[start:start + BATCH]))
                     .values(has_audio=True))
    op.create_index(INDEX, "story_topics", ["topic", "has_audio", "published", "story_id"])
    with op.batch_alter_table("topics") as batch:
        batch.add_column(sa.Column("stories", sa.BigInteger(), nullable=False, server_default="0"))
    topics = sa.table("topics", sa.column("slug", sa.String()), sa.column("stories", sa.BigInteger()))
    counted = (sa.select(sa.func.count()).select_from(links)
               .where(links.c.topic == topics.c.slug).scalar_subquery())
    conn.execute(topics.update().values(stories=counted))


def downgrade() -> None:
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("stories")
    op.drop_index(INDEX, table_name="story_topics")
    with op.batch_alter_table("story_topics") as batch:
        batch.drop_column("has_audio")
