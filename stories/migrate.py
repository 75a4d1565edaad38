"""Schema migrations with Alembic, run on a store's own engine."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from .postgres import unbounded

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn, unbounded(conn):
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
