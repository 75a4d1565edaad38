"""Database tables. Alembic's migrations in `migrations/` create them; this module is
what the store queries against and what `alembic revision --autogenerate` compares to."""

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)

# Times are naive UTC in every backend, so ordering and keyset cursors compare alike in
# SQLite and PostgreSQL; the full record (with its zone) lives in `record`.
stories = sa.Table(
    "stories",
    metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("published", sa.DateTime(), nullable=False),
    sa.Column("updated", sa.DateTime(), nullable=False),
    sa.Column("first_seen", sa.DateTime(), nullable=False),
    sa.Column("written", sa.DateTime(), nullable=False),
    sa.Column("record", sa.Text(), nullable=False),
    # The record's own `access` is "members": never read for a public answer.
    sa.Column("members", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Index(None, "published", "id"),
)

# One row per (topic, story), carrying `published` so that "newest 50 of a topic" is a
# single index range scan, whatever the store's size; and `has_audio` (the story is a
# podcast episode, `Story.is_episode`) so that "newest 50 episodes of a topic" is one too,
# however many stories without audio the topic holds.
story_topics = sa.Table(
    "story_topics",
    metadata,
    sa.Column("topic", sa.String(100), primary_key=True),
    sa.Column(
        "story_id",
        sa.String(100),
        sa.ForeignKey("stories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("published", sa.DateTime(), nullable=False),
    sa.Column("has_audio", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Index(None, "topic", "published", "story_id"),
    sa.Index(None, "topic", "has_audio", "published", "story_id"),
    sa.Index(None, "story_id"),
)

topics = sa.Table(
    "topics",
    metadata,
    sa.Column("slug", sa.String(100), primary_key=True),
    sa.Column("record", sa.Text(), nullable=False),
    # False for topics created only because a story named them.
    sa.Column("described", sa.Boolean(), nullable=False),
    # Bumped in the same transaction as every change to the topic or its stories: the
    # cheap freshness check that lets any process tell its cached feeds are stale.
    sa.Column("version", sa.BigInteger(), nullable=False),
    # When the version last moved: the Last-Modified of the topic's feeds.
    sa.Column("changed_at", sa.DateTime(), nullable=False),
    # The topic whose first podcast feed gives this one its podcast:guid, recorded when a
    # rename leads here (`stories.moves`); NULL: its own.
    sa.Column("identity", sa.String(100), nullable=True),
    # How many stories are in it (rows of story_topics), moved by the write that moves
    # them: the index page shows every topic's count without counting.
    sa.Column("stories", sa.BigInteger(), nullable=False, server_default="0"),
    # The record's `access` is "members": the topic, and every story in it, members' only.
    sa.Column("members", sa.Boolean(), nullable=False, server_default=sa.false()),
)

# Single-row counters; key "stories" is the version of the whole store, and its
# `changed_at` the time of the last change anywhere (the site feeds' Last-Modified).
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("key", sa.String(50), primary_key=True),
    sa.Column("value", sa.BigInteger(), nullable=False),
    sa.Column("changed_at", sa.DateTime(), nullable=False),
)


# Listeners with a private feed URL (`stories.members`). Times naive UTC, as above.
members = sa.Table(
    "members",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created", sa.DateTime(), nullable=False),
    sa.Column("expires", sa.DateTime(), nullable=True),  # lapsed from then on
    sa.Column("revoked", sa.DateTime(), nullable=True),
)

# A member's secrets, as SHA-256 hex only; `replaced` set once rotated away (410 then).
member_secrets = sa.Table(
    "member_secrets",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("member_id", sa.Integer(), sa.ForeignKey("members.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("created", sa.DateTime(), nullable=False),
    sa.Column("replaced", sa.DateTime(), nullable=True),
    sa.Index(None, "member_id"),
)

# Where a member's secret was used from: kind "network" (a /24 or /64) or "app" (an app
# family), each value an HMAC keyed by the secret; `seen` the last time.
member_sightings = sa.Table(
    "member_sightings",
    metadata,
    sa.Column("member_id", sa.Integer(), sa.ForeignKey("members.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("value", sa.String(64), primary_key=True),
    sa.Column("seen", sa.DateTime(), nullable=False),
)
