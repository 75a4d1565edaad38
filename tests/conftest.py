"""Fixtures: an app on a fresh store, on SQLite always and on PostgreSQL when
TEST_DATABASE_URL is set (each test run in its own schema, so runs never collide)."""

from __future__ import annotations

import copy
import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from app import create_app
from stories import migrate
from stories.store import StoryStore, create_engine

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

BACKENDS = ["sqlite", "postgresql"]


def _postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def pg_schema():
    """A PostgreSQL schema of this test run's own, dropped at the end."""
    url = _postgres_url()
    if url is None:
        pytest.skip("TEST_DATABASE_URL is not set")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    yield url, name
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


def _with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A migrated, empty database URL for each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    else:
        base, schema = request.getfixturevalue("pg_schema")
        url = _with_search_path(base, schema)
        engine = create_engine(url)
        with engine.begin() as conn:
            for table in ("story_topics", "stories", "topics", "counters", "source_state",
                          "alembic_version"):
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
        engine.dispose()
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def migrated_sqlite(path: Path) -> str:
    """The URL of a migrated SQLite database at `path`."""
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path):
    """A migrated SQLite database, for tests that are not about the backend."""
    return migrated_sqlite(tmp_path / "test.sqlite3")


@pytest.fixture
def store(database_url):
    store = StoryStore.from_url(database_url)
    yield store
    store.engine.dispose()


def make_app(database_url: str, **config):
    settings = {"TESTING": True, "DATABASE_URL": database_url, "SITE_URL": "http://storyfeed.test/"}
    settings.update(config)
    return create_app(settings)


@pytest.fixture
def app(sqlite_url):
    app = make_app(sqlite_url)
    yield app
    app.extensions["storyfeed.store"].engine.dispose()


@pytest.fixture
def upstream():
    """A real HTTP server on 127.0.0.1 standing in for an upstream source."""
    from .upstream import Upstream

    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sample_app(app):
    """The app with the bundled sample topic loaded."""
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def sample_client(sample_app):
    return sample_app.test_client()


STORY = {
    "id": "1001",
    "url": "https://www.npr.org/2024/01/02/1001/a-story",
    "title": "A story",
    "teaser": "What it is about.",
    "published": "2024-01-02T10:00:00-05:00",
    "bylines": ["Ann Writer"],
    "topics": ["world"],
    "image": {
        "url": "https://media.example.org/1001.jpg",
        "width": 1200,
        "height": 800,
        "caption": "A picture.",
        "credit": "Jane Doe/Agency",
    },
    "audio": [
        {
            "id": "2001",
            "url": "https://media.example.org/2001.mp3",
            "length": 123456,
            "duration": 61,
            "embed": '<iframe src="https://www.npr.org/player/embed/1001/2001" width="100%" height="290">',
        }
    ],
}


def story_record(**overrides) -> dict:
    """A valid story record, with fields replaced by `overrides` (None removes one)."""
    record = copy.deepcopy(STORY)
    for key, value in overrides.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record
