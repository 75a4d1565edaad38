"""Apps for the hostile suite.

Most cases only read, or are writes that must be refused: they share one app per module
(the sample topic loaded, the ingest API on), and each refused write compares the store's
export before and after. Cases about the database run on SQLite and on PostgreSQL
(`backend_app`), each PostgreSQL app in a schema of its own.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from serving.state import app_state
from stories import migrate
from stories.store import create_engine

from ..conftest import _with_search_path, make_app, migrated_sqlite
from .payloads import TOKEN, HostileClient


def build_app(database_url: str, **config):
    settings = {"INGEST_TOKENS": TOKEN}
    settings.update(config)
    app = make_app(database_url, **settings)
    app.test_client_class = HostileClient
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0, result.output
    return app


def dispose(app) -> None:
    app_state(app).store.engine.dispose()


@pytest.fixture(scope="module")
def postgres_url():
    """A migrated PostgreSQL schema of this module's own, dropped afterwards."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    schema = f"h_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _with_search_path(base, schema)
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory):
    app = build_app(migrated_sqlite(tmp_path_factory.mktemp("hostile") / "h.sqlite3"))
    yield app
    dispose(app)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend_app(request, tmp_path_factory):
    if request.param == "sqlite":
        url = migrated_sqlite(tmp_path_factory.mktemp("hostile") / "h.sqlite3")
    else:
        url = request.getfixturevalue("postgres_url")
    app = build_app(url)
    yield app
    dispose(app)


@pytest.fixture
def client(sqlite_app):
    return sqlite_app.test_client()


@pytest.fixture
def backend_client(backend_app):
    return backend_app.test_client()


@pytest.fixture
def redis_app(tmp_path):
    """The app with its render cache in Redis, under a key prefix of this test's own."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    import redis

    prefix = f"hostile-{uuid.uuid4().hex[:8]}:"
    app = build_app(migrated_sqlite(tmp_path / "r.sqlite3"), REDIS_URL=url, REDIS_PREFIX=prefix)
    client = redis.Redis.from_url(url)
    app.extensions["hostile.render_keys"] = lambda: len(client.keys(prefix + "render:*"))
    yield app
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)
    client.close()
    dispose(app)
