"""Fixtures: an app on a fresh store, on SQLite always and on PostgreSQL when
TEST_DATABASE_URL is set; Redis when TEST_REDIS_URL is set.

Every test gets an empty database of its own, made from one that is migrated once per
session (per xdist worker): Alembic costs ~80 ms a run, a copy about a millisecond.
SQLite: the migrated file is copied. PostgreSQL: the statements the real migration ran
are recorded once and replayed into a schema of the test's own, dropped afterwards.
tests/test_migrations.py checks that what a test gets is what Alembic makes.

Markers (pyproject.toml) are given here by fixture, so a new test that uses PostgreSQL
or Redis is marked without saying so: `make test-fast` leaves those out.
"""

from __future__ import annotations

import atexit
import copy
import functools
import itertools
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from app import create_app
from serving.state import app_state
from stories import migrate
from stories.store import StoryStore, create_engine

from .browser_support import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

BACKENDS = [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]

# A test that uses one of these fixtures (directly or through another) gets the marker.
MARKER_OF_FIXTURE = {"pg_schema": "postgres", "postgres_databases": "postgres", "redis_url": "redis",
                     "postgres_url": "postgres", "redis_app": "redis", "own_redis": "redis"}
# A backend parameter's value -> the marker its cases carry (tests/test_markers.py checks).
MARKER_OF_BACKEND = {"postgresql": "postgres", "redis": "redis"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    parallel = config.pluginmanager.hasplugin("xdist")
    for item in items:
        for fixture, marker in MARKER_OF_FIXTURE.items():
            if fixture in item.fixturenames:
                item.add_marker(marker)
        # A case parametrized by backend ("postgresql", "redis") needs that service even
        # when the fixture that reaches it is asked for at run time (getfixturevalue),
        # where no fixture name above can see it.
        params = getattr(getattr(item, "callspec", None), "params", {})
        for value in params.values():
            if isinstance(value, str) and value in MARKER_OF_BACKEND:
                item.add_marker(MARKER_OF_BACKEND[value])
        if parallel and item.get_closest_marker("browser"):
            # One Chromium per run: under xdist (--dist loadgroup) all on one worker.
            item.add_marker(pytest.mark.xdist_group("browser"))
    # The long tests first, so that parallel workers share them and the many short ones
    # fill in at the end, instead of one worker finishing a long test alone.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Where TEST_REQUIRE names markers (CI: "postgres redis browser"), a test of those
    kinds that skips fails instead: a service gone missing must not pass as green."""
    report = yield
    required = os.environ.get("TEST_REQUIRE", "").split()
    if report.skipped and any(item.get_closest_marker(marker) for marker in required):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but TEST_REQUIRE={' '.join(required)!r} says it must run: {reason}"
    return report


def _temporary_files_on_tmpfs() -> None:
    """Tests' files, SQLite databases above all, in /dev/shm where there is one with room:
    SQLite in WAL mode syncs the disk at checkpoints and on close, and every test's
    database is thrown away. TMPDIR, when set, is left to decide."""
    shm = "/dev/shm"
    if "TMPDIR" in os.environ or not (os.path.isdir(shm) and os.access(shm, os.W_OK)):
        return
    room = os.statvfs(shm)
    if room.f_bavail * room.f_frsize > 1024**3:
        tempfile.tempdir = shm


_temporary_files_on_tmpfs()


def _postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


def _with_search_path(url: str, schema: str) -> str:
    """`url` with every connection in `schema`, and commits that do not wait for the disk:
    a crash of the server could lose only the last commits of a database nobody keeps."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema} -csynchronous_commit=off')}"


# -- SQLite -----------------------------------------------------------------------------


@functools.cache
def _sqlite_template() -> Path:
    """A SQLite file migrated by Alembic, once per process (an xdist worker is one)."""
    directory = Path(tempfile.mkdtemp(prefix="storyfeed-template-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "template.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    # The store runs SQLite in WAL mode: with every connection closed the log is folded
    # into the file, so the file alone is the whole database.
    assert not path.with_name(path.name + "-wal").exists()
    return path


def migrated_sqlite(path: Path) -> str:
    """The URL of a migrated, empty SQLite database at `path`."""
    shutil.copyfile(_sqlite_template(), path)
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path):
    """A database without any table, on each backend: for a migration to fill, or for
    what a deploy whose release step never ran serves from."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    databases = request.getfixturevalue("postgres_databases")
    url, name = databases.create_empty()
    yield url
    databases.drop(name)


@pytest.fixture
def sqlite_url(tmp_path):
    """A migrated SQLite database, for tests that are not about the backend."""
    return migrated_sqlite(tmp_path / "test.sqlite3")


# -- PostgreSQL -------------------------------------------------------------------------


class PostgresDatabases:
    """Empty migrated databases on PostgreSQL, one schema each.

    The migration runs once, for real, in a schema of its own; the statements it sent are
    recorded (parameters inlined) and replayed in one round trip into each new schema.
    Names carry this process's own prefix, so parallel workers and runs never collide.
    """

    def __init__(self, url: str):
        self.url = url
        self.admin = create_engine(url, connect_args={"options": "-csynchronous_commit=off"})
        self.prefix = f"t_{uuid.uuid4().hex[:10]}_"
        self._numbers = itertools.count()
        self.script = self._record_migration()

    def _record_migration(self) -> str:
        url, name = self.create_empty()
        engine = create_engine(url)
        with engine.connect():
            pass  # the dialect's own first-connect queries are not the migration's
        sent: list[str] = []

        @sa.event.listens_for(engine, "before_cursor_execute")
        def record(conn, cursor, statement, parameters, context, executemany):
            import psycopg

            inline = psycopg.ClientCursor(cursor.connection)
            for params in (parameters if executemany else [parameters]):
                sent.append(inline.mogrify(statement, params or None))

        migrate.upgrade(engine)
        engine.dispose()
        self.drop(name)
        return ";\n".join(sent)

    def _create_schema(self, script: str = "") -> str:
        name = f"{self.prefix}{next(self._numbers)}"
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
            if script:
                conn.exec_driver_sql(f'SET LOCAL search_path TO "{name}";\n{script}')
        return name

    def create(self) -> tuple[str, str]:
        """(url, schema) of a new, migrated, empty database."""
        name = self._create_schema(self.script)
        return _with_search_path(self.url, name), name

    def create_empty(self) -> tuple[str, str]:
        """(url, schema) of a new database without any table, for a migration to fill."""
        name = self._create_schema()
        return _with_search_path(self.url, name), name

    def drop(self, name: str) -> None:
        try:
            with self.admin.begin() as conn:
                # A connection a test left inside a transaction would block the drop.
                conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        except sa.exc.OperationalError as error:
            warnings.warn(f"schema {name} left behind: {error}", stacklevel=1)

    def close(self) -> None:
        with self.admin.begin() as conn:
            left = conn.exec_driver_sql(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (self.prefix,)
            ).scalars().all()
        for name in left:
            self.drop(name)
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_databases():
    url = _postgres_url()
    if url is None:
        pytest.skip("TEST_DATABASE_URL is not set")
    databases = PostgresDatabases(url)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def pg_schema(postgres_databases):
    """An empty PostgreSQL schema of this session's own, dropped at the end: for tests
    that migrate it themselves (as a deploy would)."""
    _, name = postgres_databases.create_empty()
    yield postgres_databases.url, name
    postgres_databases.drop(name)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A migrated, empty database URL for each backend."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "test.sqlite3")
        return
    databases = request.getfixturevalue("postgres_databases")
    url, name = databases.create()
    yield url
    databases.drop(name)


# -- Redis ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url():
    """The shared Redis of TEST_REDIS_URL; tests keep to keys of their own prefix."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    return url


# -- the app ----------------------------------------------------------------------------


@pytest.fixture
def store(database_url):
    store = StoryStore.from_url(database_url)
    yield store
    store.engine.dispose()


def make_app(database_url: str, **config):
    settings = {"TESTING": True, "DATABASE_URL": database_url, "SITE_URL": "http://storyfeed.test/"}
    settings.update(config)
    return create_app(settings)


@pytest.fixture(params=["on", "off"], ids=["fast-path", "flask"])
def both_paths(request, monkeypatch):
    """Warm feed and oEmbed answers from the WSGI fast path (serving/fastpath.py), and
    from Flask alone: the HTTP tests of feeds and oEmbed run on both (`pytestmark`)."""
    monkeypatch.setenv("FAST_PATH", request.param)
    return request.param


@pytest.fixture
def app(sqlite_url):
    app = make_app(sqlite_url)
    yield app
    app_state(app).store.engine.dispose()


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


@pytest.fixture(scope="module")
def browser():
    """Chromium for one module's browser tests (tests/browser_support.py)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
