"""The desk's tables, on the store's metadata (one database, one set of migrations), as
`sources.schema` does; `migrations/env.py` imports this module so that autogenerate
compares them too.

Story search is made of what SQLAlchemy Core does not declare: on SQLite an FTS5 table
kept by triggers, on PostgreSQL a GIN index over an expression. Migration 0008 makes
them; `SEARCH_OBJECTS` names them for comparisons of the schema (tests/test_migrations.py).
"""

import sqlalchemy as sa

from stories.schema import metadata

# Editors who may sign in to /desk (`flask desk add-user`). `generation` moves with every
# password change: a session made before it is no longer taken.
desk_users = sa.Table(
    "desk_users",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("generation", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
)

# Failed sign-ins per account ("user:NAME") and per address ("addr:IP") within the
# current window: every instance sees the same counts, and rows of windows past are
# deleted as new failures are written, so the table stays as small as the attacks.
desk_login_failures = sa.Table(
    "desk_login_failures",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("window_start", sa.DateTime(), nullable=False),
    sa.Column("failures", sa.Integer(), nullable=False),
)

# Work the desk starts and does not wait for (a linter run): what a page shows while it
# runs and after.
desk_jobs = sa.Table(
    "desk_jobs",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("target", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # running, done, failed
    sa.Column("done", sa.Integer(), nullable=False),
    sa.Column("total", sa.Integer(), nullable=False),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("finished_at", sa.DateTime(), nullable=True),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("started_by", sa.String(100), nullable=False),
    sa.Index(None, "kind", "target", "id"),
)

# The last `feeds check` of each topic (the command's and the desk's): when, how many
# errors and warnings, and the problems as a JSON list of `Problem.as_dict()`.
feed_checks = sa.Table(
    "feed_checks",
    metadata,
    sa.Column("topic", sa.String(100), primary_key=True),
    sa.Column("checked_at", sa.DateTime(), nullable=False),
    sa.Column("errors", sa.Integer(), nullable=False),
    sa.Column("warnings", sa.Integer(), nullable=False),
    sa.Column("problems", sa.Text(), nullable=False),
)

SQLITE_SEARCH_TABLE = "stories_search"
POSTGRES_SEARCH_INDEX = "ix_stories_search"
# The words a search reads, as one expression: the same in the index and in the query, or
# PostgreSQL would not use the index.
POSTGRES_SEARCH_DOCUMENT = (
    "to_tsvector('simple'::regconfig, coalesce((record::jsonb) ->> 'title', '') || ' ' || "
    "coalesce((record::jsonb) ->> 'teaser', ''))"
)
# What a comparison of the database with `metadata` must leave aside: FTS5 keeps its
# index in shadow tables named after its own.
SEARCH_OBJECTS = (SQLITE_SEARCH_TABLE, POSTGRES_SEARCH_INDEX)


def is_search_object(name: str | None) -> bool:
    return name is not None and any(name == n or name.startswith(n + "_") for n in SEARCH_OBJECTS)
