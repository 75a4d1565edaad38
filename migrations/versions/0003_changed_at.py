"""When each topic, and the store as a whole, last changed: feeds' Last-Modified.

Revision ID: 0003_changed_at
Revises: 0002_source_state
Create Date: 2026-11-27
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003_changed_at"
down_revision = "0002_source_state"
branch_labels = None
depends_on = None

TABLES = ("topics", "counters")


def upgrade() -> None:
    # Rows that exist get the time of the upgrade: later than anything they show, so a
    # client's If-Modified-Since never hides a change made before it.
    now = datetime.now(UTC).replace(tzinfo=None)
    for name in TABLES:
        op.add_column(name, sa.Column("changed_at", sa.DateTime(), nullable=True))
        table = sa.table(name, sa.column("changed_at", sa.DateTime()))
        op.execute(table.update().values(changed_at=now))
        with op.batch_alter_table(name) as batch:
            batch.alter_column("changed_at", existing_type=sa.DateTime(), nullable=False)


def downgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("changed_at")
