"""Alembic environment: runs on the connection `stories.migrate` hands over, or on
DATABASE_URL when alembic is called directly (e.g. `alembic revision --autogenerate`)."""

from alembic import context

import audience.schema  # noqa: F401  (puts the audience's tables on the metadata)
import desk.schema  # noqa: F401  (puts the desk's tables on the metadata)
import sources.schema  # noqa: F401  (puts the sources' table on the metadata)
from desk.schema import is_search_object
from serving.settings import load_settings
from stories.schema import metadata
from stories.store import create_engine

config = context.config


def run_on(connection) -> None:
    # Story search is made of what Core does not declare (desk/schema.py): autogenerate
    # must neither drop it nor ask for it.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      include_name=lambda name, kind, _parents: not is_search_object(name))
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    # The app's own default when DATABASE_URL is unset (create_app's instance folder).
    engine = create_engine(load_settings()["DATABASE_URL"] or "sqlite:///instance/storyfeed.sqlite3")
    with engine.begin() as conn:
        run_on(conn)
