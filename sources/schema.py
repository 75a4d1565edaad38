"""The sources' table, on the store's metadata: one database, one set of migrations, but
the store knows nothing of sources. `migrations/env.py` imports this module so that
autogenerate compares it too."""

import sqlalchemy as sa

from stories.schema import metadata

# What `sync` remembers about each upstream source between runs (sources/state.py).
source_state = sa.Table(
    "source_state",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("last_attempt", sa.DateTime(), nullable=True),
    sa.Column("last_success", sa.DateTime(), nullable=True),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    # sha256 over the source's settings and the last document stored from it: a 304 or a
    # stale copy of that document needs no new parse.
    sa.Column("digest", sa.String(64), nullable=True),
    # JSON list of the story ids that document held, for `remove_missing`.
    sa.Column("story_ids", sa.Text(), nullable=False),
)
