"""The editors' desk: its accounts, login throttle, jobs and the stored results of
`feeds check`; and story search by the words of titles and teasers (an FTS5 table kept by
triggers on SQLite, a GIN index over the same words on PostgreSQL).

Revision ID: 0008_desk
Revises: 0005_podcast_episodes
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_desk"
down_revision = "0007_audience"
branch_labels = None
depends_on = None

# As desk/schema.py has them: a migration must mean the same whatever that module becomes.
SEARCH_TABLE = "stories_search"
SEARCH_INDEX = "ix_stories_search"
SEARCH_DOCUMENT = (
    "to_tsvector('simple'::regconfig, coalesce((record::jsonb) ->> 'title', '') || ' ' || "
    "coalesce((record::jsonb) ->> 'teaser', ''))"
)
# The FTS5 rows share the stories' rowids: an update or delete finds its row by rowid,
# never by scanning the index for an id.
SQLITE_SEARCH = (
    f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(title, teaser, "
    "tokenize = 'unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER {SEARCH_TABLE}_insert AFTER INSERT ON stories BEGIN "
    f"INSERT INTO {SEARCH_TABLE} (rowid, title, teaser) VALUES (new.rowid, "
    "coalesce(json_extract(new.record, '$.title'), ''), "
    "coalesce(json_extract(new.record, '$.teaser'), '')); END",
    f"CREATE TRIGGER {SEARCH_TABLE}_update AFTER UPDATE OF record ON stories BEGIN "
    f"DELETE FROM {SEARCH_TABLE} WHERE rowid = old.rowid; "
    f"INSERT INTO {SEARCH_TABLE} (rowid, title, teaser) VALUES (new.rowid, "
    "coalesce(json_extract(new.record, '$.title'), ''), "
    "coalesce(json_extract(new.record, '$.teaser'), '')); END",
    f"CREATE TRIGGER {SEARCH_TABLE}_delete AFTER DELETE ON stories BEGIN "
    f"DELETE FROM {SEARCH_TABLE} WHERE rowid = old.rowid; END",
    f"INSERT INTO {SEARCH_TABLE} (rowid, title, teaser) SELECT rowid, "
    "coalesce(json_extract(record, '$.title'), ''), coalesce(json_extract(record, '$.teaser'), '') "
    "FROM stories",
)


def upgrade() -> None:
    op.create_table(
        "desk_users",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_desk_users"),
    )
    op.create_table(
        "desk_login_failures",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_desk_login_failures"),
    )
    op.create_table(
        "desk_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("started_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_desk_jobs"),
    )
    op.create_index("ix_desk_jobs_kind_target_id", "desk_jobs", ["kind", "target", "id"])
    op.create_table(
        "feed_checks",
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("topic", name="pk_feed_checks"),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_SEARCH:
            op.execute(statement)
    else:
        op.execute(f"CREATE INDEX {SEARCH_INDEX} ON stories USING gin ({SEARCH_DOCUMENT})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {SEARCH_TABLE}_{name}")
        op.execute(f"DROP TABLE {SEARCH_TABLE}")
    else:
        op.execute(f"DROP INDEX {SEARCH_INDEX}")
    op.drop_table("feed_checks")
    op.drop_index("ix_desk_jobs_kind_target_id", table_name="desk_jobs")
    op.drop_table("desk_jobs")
    op.drop_table("desk_login_failures")
    op.drop_table("desk_users")
