"""Schema migrations with Alembic, run on a store's own engine; and where a store stands.

A store behind the migrations' head (a deploy whose release step never ran) fails on
its first query of a table or column it lacks; `schema_state` says so before that, and
`names_missing_schema` recognises the failure when it comes anyway.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from .postgres import unbounded

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

UPGRADE_COMMAND = "flask --app app db upgrade"

# PostgreSQL's undefined_table and undefined_column; SQLite says it in words.
_MISSING_SQLSTATES = frozenset({"42P01", "42703"})
_MISSING_SQLITE = ("no such table", "no such column", "has no column named")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = _config()
    with engine.begin() as conn, unbounded(conn):
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


@functools.cache
def _scripts() -> ScriptDirectory:
    """Read once per process: it parses every migration file."""
    return ScriptDirectory.from_config(_config())


@functools.cache
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


def head() -> str:
    found = _scripts().get_current_head()
    assert found is not None, "migrations/ holds no revision"
    return found


@dataclass(frozen=True)
class SchemaState:
    revision: str | None  # the store's (None: never migrated, no alembic_version table)
    head: str  # the newest of this code's migrations

    @property
    def behind(self) -> bool:
        """Whether migrations this code needs have not run. A revision this code does not
        know is a newer deploy's: this code ran on the schema before it, so not behind."""
        if self.revision is None:
            return True
        return self.revision != self.head and self.revision in _known_revisions()

    def describe(self) -> str:
        """One line for a log or an error page: where the store is, and what to run."""
        return (f"the store's schema is at {self.revision or 'no revision (no tables)'}, behind "
                f"this code's {self.head}: run `{UPGRADE_COMMAND}` (the release step)")


def schema_state(engine: Engine) -> SchemaState:
    """Where `engine`'s store stands against the migrations (one short query)."""
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
    return SchemaState(revision=revision, head=head())


def names_missing_schema(error: DBAPIError) -> bool:
    """Whether a store error says a table or column is missing: the store may be behind."""
    original = error.orig
    if getattr(original, "sqlstate", None) in _MISSING_SQLSTATES:
        return True
    return str(original).startswith(_MISSING_SQLITE)
