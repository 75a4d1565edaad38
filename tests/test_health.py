"""Health that tells the truth: /livez, /readyz (= /healthz), pages while the store's
schema is behind the migrations, and SQLite on a hosting platform."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from alembic import command

from serving.settings import PLATFORM_VARIABLES
from serving.state import app_state
from stories import migrate
from stories.store import create_engine

from .conftest import make_app
from .openapi_client import OpenAPIClient
from .servers import Gunicorn, flask_cli, free_port, service_env

HEAD = migrate.head()
UPGRADE = "flask --app app db upgrade"
SLUG = "north-korean-defectors"
# Every kind of route that reads the store: pages, feeds, oEmbed, the read API, a move.
STORE_PATHS = ["/", f"/topics/{SLUG}", "/stories/1169464713", f"/topics/{SLUG}/rss.xml",
               "/oembed?url=http://storyfeed.test/stories/1169464713", "/api/stories/1169464713"]


@pytest.fixture(autouse=True)
def off_platform(monkeypatch):
    """Tests run as on a laptop unless they say otherwise."""
    for name in PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def dispose(app) -> None:
    app_state(app).store.engine.dispose()



def upgrade(url: str, revision: str = "head") -> None:
    engine = create_engine(url)
    migrate.upgrade(engine, revision)
    engine.dispose()


# -- /livez and /readyz -------------------------------------------------------------------


def test_readyz_and_healthz_report_each_check(app):
    app.test_client_class = OpenAPIClient
    client = app.test_client()
    for path in ("/readyz", "/healthz"):
        answer = client.get(path)
        assert answer.status_code == 200
        assert answer.get_json() == {"status": "ok", "checks": {
            "store": {"status": "ok", "backend": "sqlite", "local_file": True},
            "schema": {"status": "ok", "revision": HEAD, "head": HEAD},
        }}
        assert answer.headers["Cache-Control"] == "no-store"
    assert client.get("/livez").get_json() == {"status": "ok"}


def test_a_database_without_tables_is_not_ready_and_pages_say_what_to_run(empty_database_url):
    """The old /healthz said ok here, while every page answered 500 or 503."""
    app = make_app(empty_database_url)
    app.test_client_class = OpenAPIClient  # the 503 answers are the documented ones
    client = app.test_client()
    for path in ("/readyz", "/healthz"):
        answer = client.get(path)
        assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0
        body = answer.get_json()
        assert body["status"] == "unavailable"
        assert body["checks"]["store"]["status"] == "ok"
        schema = body["checks"]["schema"]
        assert schema["status"] == "unavailable" and schema["revision"] is None and schema["head"] == HEAD
        assert UPGRADE in schema["message"]
    for path in STORE_PATHS:
        answer = client.get(path)
        assert answer.status_code == 503, path
        assert int(answer.headers["Retry-After"]) > 0
        assert UPGRADE in answer.get_data(as_text=True), path
    assert client.get("/livez").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    dispose(app)


def test_a_store_behind_head_serves_again_once_upgraded(empty_database_url, caplog):
    upgrade(empty_database_url, "0002_source_state")
    with caplog.at_level(logging.WARNING):
        app = make_app(empty_database_url)
    said = [r.getMessage() for r in caplog.records if UPGRADE in r.getMessage()]
    assert len(said) == 1 and "0002_source_state" in said[0] and HEAD in said[0]
    client = app.test_client()
    answer = client.get(f"/topics/{SLUG}", headers={"Accept": "application/json"})
    assert answer.status_code == 503
    assert answer.get_json()["status"] == 503 and UPGRADE in answer.get_json()["message"]
    assert len([r for r in caplog.records if UPGRADE in r.getMessage()]) == 1  # once, not per request

    upgrade(empty_database_url)
    assert client.get("/readyz").status_code == 200  # what a platform polls
    assert client.get(f"/topics/{SLUG}").status_code == 404  # served: no such topic yet
    dispose(app)


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_store_at_head_is_not_asked_for_its_schema_per_request(database_url, caplog):
    with caplog.at_level(logging.WARNING):
        app = make_app(database_url)
    assert not [r for r in caplog.records if UPGRADE in r.getMessage()]
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0, result.output
    asked: list[str] = []
    sa.event.listen(app_state(app).store.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: asked.append(statement))
    client = app.test_client()
    for path in STORE_PATHS * 3:
        assert client.get(path).status_code == 200, path
    assert asked and not [s for s in asked if "alembic_version" in s]
    dispose(app)


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_store_taken_behind_while_serving_answers_503_not_500(database_url):
    """The schema moved back under a running app (a restore, a downgrade): the store's
    error names a missing column, and the page says what to run."""
    app = make_app(database_url, FAST_PATH="off")
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    client = app.test_client()
    config = migrate._config()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002_source_state")
    engine.dispose()
    app_state(app).store.engine.dispose()  # no pooled connection remembers the old columns
    answer = client.get(f"/topics/{SLUG}/rss.xml")  # reads a column the downgrade dropped
    assert answer.status_code == 503 and UPGRADE in answer.get_data(as_text=True)
    assert client.get("/readyz").get_json()["checks"]["schema"]["revision"] == "0002_source_state"
    dispose(app)


def test_readyz_is_never_a_cached_answer(app):
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    with app_state(app).store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
    for _ in range(2):
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.get_json()["checks"]["schema"]["revision"] is None


def test_redis_is_checked_when_configured(sqlite_url, redis_url):
    app = make_app(sqlite_url, REDIS_URL=redis_url, REDIS_PREFIX="health-test:")
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200 and answer.get_json()["checks"]["redis"] == {"status": "ok"}
    dispose(app)


def test_redis_that_does_not_answer_makes_readyz_503(sqlite_url):
    app = make_app(sqlite_url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    checks = answer.get_json()["checks"]
    assert checks["redis"]["status"] == "unavailable" and checks["store"]["status"] == "ok"
    assert client.get("/livez").status_code == 200
    dispose(app)


class Frozen:
    """A server that takes connections and never says a word: a SIGSTOPped database."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.socket.getsockname()[1]

    def close(self):
        self.socket.close()


@pytest.fixture
def frozen():
    server = Frozen()
    yield server
    server.close()


def test_a_frozen_store_makes_readyz_answer_503_within_a_second_and_livez_200(frozen):
    app = make_app(f"postgresql://nobody@127.0.0.1:{frozen.port}/none")
    client = app.test_client()
    waiting_before = len([t for t in threading.enumerate() if t.name == "probe-store"])
    started = time.monotonic()
    assert client.get("/livez").status_code == 200
    assert time.monotonic() - started < 0.2
    for _ in range(3):
        started = time.monotonic()
        answer = client.get("/readyz")
        took = time.monotonic() - started
        assert answer.status_code == 503 and took < 1.5, took
        checks = answer.get_json()["checks"]
        # Still waiting, or already given up by the store's own bounded waits (a server
        # that did not answer is not tried again for 5 s: stories/postgres.py).
        assert checks["store"] in ({"status": "unavailable", "backend": "postgresql", "message": message}
                                   for message in ("no answer within 1 s", "not answering")), checks
        assert checks["schema"]["status"] == "unavailable"
    # A check still waiting is joined, not repeated: one thread per check, not per request.
    waiting = len([t for t in threading.enumerate() if t.name == "probe-store"])
    assert waiting <= waiting_before + 1


# -- SQLite on a hosting platform ---------------------------------------------------------


@pytest.mark.parametrize("variable, value", [("DYNO", "web.1"), ("RENDER", "true"), ("FLY_APP_NAME", "news"),
                                             ("RAILWAY_ENVIRONMENT", "production"),
                                             ("SITE_URL", "https://news.example.org/")])
def test_sqlite_on_a_platform_is_a_loud_warning_and_readyz_says_so(sqlite_url, monkeypatch, caplog,
                                                                     variable, value):
    monkeypatch.setenv(variable, value)
    with caplog.at_level(logging.WARNING):
        app = make_app(sqlite_url, SITE_URL=value if variable == "SITE_URL" else "http://storyfeed.test/")
    warned = [r for r in caplog.records if "SQLite" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert "DATABASE_URL" in warned[0].getMessage()
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200  # a warning, not a failure
    store = answer.get_json()["checks"]["store"]
    assert store["local_file"] is True and "SQLite" in store["warning"]
    dispose(app)


def test_sqlite_on_a_laptop_is_no_warning(sqlite_url, caplog):
    with caplog.at_level(logging.WARNING):
        app = make_app(sqlite_url)
    assert not [r for r in caplog.records if "SQLite" in r.getMessage()]
    assert "warning" not in app.test_client().get("/readyz").get_json()["checks"]["store"]
    dispose(app)


# -- the web process as a platform runs it --------------------------------------------------


@pytest.mark.slow
def test_gunicorn_on_a_store_never_migrated_says_so_once_and_recovers_after_the_release_step(tmp_path):
    database = f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}"
    env = service_env(DATABASE_URL=database, SITE_URL="http://news.example.org/")
    with Gunicorn(env, workers=1) as server:
        assert requests.get(server.base + "/livez", timeout=10).status_code == 200
        assert requests.get(server.base + "/readyz", timeout=10).status_code == 503
        page = requests.get(server.base + f"/topics/{SLUG}", timeout=10)
        assert page.status_code == 503 and UPGRADE in page.text
        released = flask_cli(env, *UPGRADE.split()[3:])
        assert released.returncode == 0, released.stderr
        assert requests.get(server.base + "/readyz", timeout=10).status_code == 200
        assert requests.get(server.base + f"/topics/{SLUG}", timeout=10).status_code == 404
        log = Path(server.log).read_text()
    assert log.count(UPGRADE) == 1, log  # one line at start, none per request
    assert "Traceback" not in log


@pytest.mark.slow
def test_the_release_step_on_a_store_never_migrated_is_not_told_to_run_itself(tmp_path):
    env = service_env(DATABASE_URL=f"sqlite:///{tmp_path / 'new.sqlite3'}", LOG_LEVEL="INFO")
    released = flask_cli(env, *UPGRADE.split()[3:])
    assert released.returncode == 0, released.stderr
    assert released.stdout == "database at head\n" and UPGRADE not in released.stderr


@pytest.mark.slow
def test_gunicorns_gevent_worker_answers_readyz_within_a_second_on_a_frozen_store(frozen):
    """Under gevent the checks' threads are greenlets: a driver that blocked the event
    loop would hold /readyz and /livez with it."""
    env = service_env(DATABASE_URL=f"postgresql://nobody@127.0.0.1:{frozen.port}/none",
                      SITE_URL="http://news.example.org/")
    with Gunicorn(env, workers=1) as server:
        for _ in range(3):
            started = time.monotonic()
            answer = requests.get(server.base + "/readyz", timeout=10)
            assert answer.status_code == 503 and time.monotonic() - started < 1.5
            assert answer.json()["checks"]["store"]["message"] in ("no answer within 1 s", "not answering")
            started = time.monotonic()
            assert requests.get(server.base + "/livez", timeout=10).status_code == 200
            assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz"])
def test_a_probe_with_any_host_is_answered_when_trusted_hosts_are_set(sqlite_url, path):
    """Platforms probe an instance by its address (or their own name): with TRUSTED_HOSTS
    refusing other Hosts, a healthy instance looked dead."""
    app = make_app(sqlite_url, TRUSTED_HOSTS="news.example.org", SITE_URL=None)
    client = app.test_client()
    for host in ("10.1.2.3:8000", "healthcheck.railway.app", "news.example.org"):
        assert client.get(path, headers={"Host": host}).status_code == 200, host
    assert client.get("/", headers={"Host": "10.1.2.3:8000"}).status_code == 400
