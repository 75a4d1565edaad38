"""The audience's tables, on the store's metadata (as sources/schema.py): one database,
one set of migrations, but the store knows nothing of listeners. `migrations/env.py`
imports this module so that autogenerate compares it too.

No column holds an address: `listener` is a keyed hash of it, with a salt that lives one
UTC day in `audience_salts` and is then deleted (audience/listeners.py).
"""

import sqlalchemy as sa

from stories.schema import metadata

# One row per answered request for an audio file, written in batches (audience/recorder.py):
# the raw events every report counts again, so that totals always reconcile.
audience_fetches = sa.Table(
    "audience_fetches",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("at", sa.DateTime(), nullable=False),  # naive UTC, as every time in the store
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
    sa.Index(None, "at"),
)

# The day's salt of listener hashes, shared by every process; older days' are deleted.
audience_salts = sa.Table(
    "audience_salts",
    metadata,
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("salt", sa.String(64), nullable=False),
)
