"""The Alembic migrations, run for real on every backend: they make what stories/schema.py
declares, they go down and up again, and the database each test is handed (a copy made
once per session, see conftest.py) is exactly what they make."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

import audience.schema  # noqa: F401  (the audience's tables are on the metadata too)
import desk.schema  # noqa: F401  (the desk's tables are on the metadata too)
import sources.schema  # noqa: F401  (the sources' table is on the metadata too)
from stories import migrate
from stories.schema import metadata
from stories.store import create_engine

from .conftest import migrated_sqlite


@pytest.fixture
def migrated(empty_database_url):
    engine = create_engine(empty_database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def shape(engine: sa.Engine) -> dict:
    """Everything about a database that a test could tell apart: tables, columns, keys,
    indexes, and the rows the migrations wrote."""
    inspector = sa.inspect(engine)
    tables = {}
    with engine.connect() as conn:
        for table in sorted(inspector.get_table_names()):
            tables[table] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"))
                            for c in inspector.get_columns(table)],
                "primary key": inspector.get_pk_constraint(table),
                "foreign keys": sorted(map(repr, inspector.get_foreign_keys(table))),
                "indexes": sorted(map(repr, inspector.get_indexes(table))),
                "unique": sorted(map(repr, inspector.get_unique_constraints(table))),
                # Without `changed_at`: migration 0003 dates existing rows by the clock.
                "rows": sorted(tuple(v for k, v in row._mapping.items() if k != "changed_at")
                               for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))),
            }
    return tables


def alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_the_migrations_make_what_the_schema_declares(migrated):
    with migrated.connect() as conn:
        # Story search is made of what Core does not declare (desk/schema.py).
        context = MigrationContext.configure(conn, opts={
            "include_name": lambda name, _kind, _parents: not desk.schema.is_search_object(name)})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_every_migration_goes_down_and_up_again(migrated):
    before = shape(migrated)
    with migrated.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(sa.inspect(migrated).get_table_names()) <= {"alembic_version"}
    with migrated.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert shape(migrated) == before


def test_a_tests_database_is_what_the_migrations_make(database_url, request, tmp_path):
    if database_url.startswith("sqlite"):
        fresh_url, schema = f"sqlite:///{tmp_path / 'fresh.sqlite3'}", None
    else:
        fresh_url, schema = request.getfixturevalue("postgres_databases").create_empty()
    fresh, given = create_engine(fresh_url), create_engine(database_url)
    try:
        migrate.upgrade(fresh)
        assert shape(given) == shape(fresh)
    finally:
        fresh.dispose()
        given.dispose()
        if schema is not None:
            request.getfixturevalue("postgres_databases").drop(schema)


def test_the_sqlite_copy_is_a_database_of_its_own(tmp_path):
    first = create_engine(migrated_sqlite(tmp_path / "a.sqlite3"))
    second = create_engine(migrated_sqlite(tmp_path / "b.sqlite3"))
    try:
        with first.begin() as conn:
            conn.execute(sa.text("UPDATE counters SET value = 7"))
        with second.connect() as conn:
            assert conn.execute(sa.text("SELECT value FROM counters")).scalar_one() == 0
    finally:
        first.dispose()
        second.dispose()


def test_identities_of_a_store_written_before_keep_the_guids_it_served(empty_database_url):
    """0004 records the podcast identity the old rule gave each moved-into topic (the start
    of the longest chain into it), so that upgrading changes no show's podcast:guid."""
    engine = create_engine(empty_database_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003_changed_at")
        topics = sa.table("topics", sa.column("slug"), sa.column("record"), sa.column("described"),
                          sa.column("version"), sa.column("changed_at"))
        moves = {"a": "b", "b": "c", "m": "c", "x": ""}
        for slug in ("a", "b", "c", "m", "x"):
            record = {"slug": slug, "title": slug}
            if moves.get(slug):
                record["moved_to"] = moves[slug]
            conn.execute(topics.insert().values(slug=slug, record=json.dumps(record, sort_keys=True),
                                                described=True, version=1, changed_at=datetime(2026, 1, 1)))
        command.upgrade(alembic_config(conn), "head")
        found = dict(conn.execute(sa.text("SELECT slug, identity FROM topics")).all())
    engine.dispose()
    assert found == {"a": None, "b": "a", "c": "a", "m": None, "x": None}
