"""Each renamed topic records whose podcast identity (podcast:guid) it carries on.

Before, identity was worked out from the graph of moves on every read (the start of the
longest chain into a topic), so a topic moved onto an established show took that show's
guid away. Now it is decided when a move is written. Stores written before keep exactly
the guids they served: each moved-into topic is given what the old rule gave it.

Revision ID: 0004_topic_identity
Revises: 0003_changed_at
Create Date: 2026-12-07
"""

import json

import sqlalchemy as sa
from alembic import op

from stories.moves import TopicMoves

revision = "0004_topic_identity"
down_revision = "0003_changed_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("topics", sa.Column("identity", sa.String(100), nullable=True))
    topics = sa.table("topics", sa.column("slug", sa.String), sa.column("record", sa.Text),
                      sa.column("identity", sa.String))
    conn = op.get_bind()
    moves = {}
    # Every row, read once: no LIKE '%...%' here, since tests replay the statements a
    # migration sent as one script, where a % would read as a placeholder.
    for slug, record in conn.execute(sa.select(topics.c.slug, topics.c.record)):
        moved_to = json.loads(record).get("moved_to")
        if moved_to:
            moves[slug] = moved_to
    graph = TopicMoves(moves)
    for target in sorted(set(moves.values())):
        start = graph.longest_chain_start(target)
        if start != target:
            conn.execute(topics.update().where(topics.c.slug == target).values(identity=start))


def downgrade() -> None:
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("identity")
