"""Alembic environment: runs on the connection `stories.migrate` hands over, or on
DATABASE_URL when alembic is called directly (e.g. `alembic revision --autogenerate`)."""

import os

from alembic import context

from stories.schema import metadata
from stories.store import create_engine

config = context.config


def run_on(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    engine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///instance/storyfeed.sqlite3"))
    with engine.begin() as conn:
        run_on(conn)
