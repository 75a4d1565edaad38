"""The store failing in the ways PostgreSQL fails in production: no connection to spare in
the pool, a server that freezes (SIGSTOP: it accepts, acknowledges and says nothing),
a server that stops. Requests answer 503 with Retry-After within seconds, and what was
already rendered is still served, stale, with its validators."""

from __future__ import annotations

import signal
import time

import pytest
import requests
import sqlalchemy as sa

from serving.state import app_state
from stories.postgres import SILENCE_PAUSE, Limits, unbounded
from stories.store import StoryStore

from .conftest import make_app, migrated_sqlite
from .servers import Gunicorn, PostgresCluster, RedisServer, flask_cli, service_env


@pytest.fixture
def postgres_url(postgres_databases):
    url, name = postgres_databases.create()
    yield url
    postgres_databases.drop(name)


def test_pool_exhausted_is_503_with_retry_after(postgres_url):
    app = make_app(postgres_url, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=1)
    engine = app_state(app).store.engine
    try:
        with engine.connect():  # the pool's one connection, held
            started = time.monotonic()
            for path in ("/api/stories/1001", "/topics/world"):
                answer = app.test_client().get(path)
                assert answer.status_code == 503, path
                assert int(answer.headers["Retry-After"]) > 0
                assert b"Traceback" not in answer.data and b"QueuePool" not in answer.data
            assert time.monotonic() - started < 5
    finally:
        engine.dispose()


def test_statements_are_cancelled_after_the_timeout_but_not_in_migrations(postgres_url):
    store = StoryStore.from_url(postgres_url, Limits(statement_timeout=0.5, keepalive_idle=7))
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "500ms"
            libpq = conn.connection.dbapi_connection.info.get_parameters()
            assert (libpq["keepalives_idle"], libpq["tcp_user_timeout"]) == ("7", "1500")
            started = time.monotonic()
            with pytest.raises(sa.exc.OperationalError, match="statement timeout"):
                conn.exec_driver_sql("SELECT pg_sleep(3)")
            assert time.monotonic() - started < 2
        with store.engine.begin() as conn, unbounded(conn):
            conn.exec_driver_sql("SELECT pg_sleep(2)")  # past both the timeout and the deadline
        with store.engine.connect() as conn:  # and the connection is bounded again after
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "500ms"
    finally:
        store.engine.dispose()


def test_a_server_silent_past_the_deadline_is_given_up_and_the_pool_recovers(postgres_url):
    """The server's own timeout turned off for one transaction: the client's deadline
    (statement timeout + 1 s) alone ends the wait, as when the server is frozen."""
    store = StoryStore.from_url(postgres_url, Limits(statement_timeout=0.5))
    try:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            started = time.monotonic()
            with pytest.raises(sa.exc.OperationalError, match=r"did not answer within 1.5 s"):
                conn.exec_driver_sql("SELECT pg_sleep(5)")
            assert time.monotonic() - started < 3
            assert conn.invalidated  # closed: never handed out again
        # For a moment, no connection is tried: failing at once beats waiting again.
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="not tried again yet"):
            store.ping()
        assert time.monotonic() - started < 0.5
        time.sleep(SILENCE_PAUSE)
        store.ping()
    finally:
        store.engine.dispose()


@pytest.mark.parametrize("fast_path", ["on", "off"])
def test_rendered_feeds_are_served_stale_when_the_store_fails(tmp_path, fast_path):
    """On SQLite: the database file taken away under the app, every query fails."""
    path = tmp_path / "store.sqlite3"
    app = make_app(migrated_sqlite(path), VERSION_MEMO_SECONDS=0, FAST_PATH=fast_path)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    client = app.test_client()
    fresh = client.get(FEED)
    assert fresh.status_code == 200 and "Warning" not in fresh.headers

    app_state(app).store.engine.dispose()
    path.rename(tmp_path / "gone.sqlite3")
    stale = client.get(FEED)
    assert stale.status_code == 200 and stale.data == fresh.data
    assert stale.headers["ETag"] == fresh.headers["ETag"]
    assert stale.headers["Last-Modified"] == fresh.headers["Last-Modified"]
    assert stale.headers["Warning"] == STALE_WARNING
    conditional = client.get(FEED, headers={"If-None-Match": fresh.headers["ETag"]})
    assert conditional.status_code == 304 and conditional.headers["Warning"] == STALE_WARNING
    for never_rendered in (f"/topics/{SLUG}/atom.xml", f"/topics/{SLUG}"):
        answer = client.get(never_rendered)
        assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0


# -- a server of the test's own, frozen and stopped --------------------------------------

SLUG = "north-korean-defectors"
FEED = f"/topics/{SLUG}/rss.xml"
SITE = "http://news.example.org/"


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own, migrated, with the sample topic."""
    with PostgresCluster() as cluster:
        env = service_env(DATABASE_URL=cluster.url, SITE_URL=SITE)
        for command in (("db", "upgrade"), ("stories", "sample")):
            done = flask_cli(env, *command)
            assert done.returncode == 0, done.stderr
        yield cluster, env


def timed_get(url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = requests.get(url, timeout=60, **kwargs)
    return answer, time.monotonic() - started


@pytest.mark.slow
def test_frozen_postgresql_answers_503_within_seconds(own_postgres):
    cluster, env = own_postgres
    with Gunicorn(env, workers=1) as server:
        assert requests.get(server.base + f"/topics/{SLUG}", timeout=10).status_code == 200
        cluster.signal(signal.SIGSTOP)
        try:
            times = []
            for path in (f"/topics/{SLUG}", "/api/stories/1169825816", f"/topics/{SLUG}"):
                answer, took = timed_get(server.base + path)
                assert answer.status_code == 503, path
                assert int(answer.headers["Retry-After"]) > 0
                times.append(took)
            print(f"frozen PostgreSQL: 503 after {', '.join(f'{t:.2f}' for t in times)} s")
            assert max(times) < 10
        finally:
            cluster.signal(signal.SIGCONT)
        # Thawed, it serves again without a restart, once the pause after the silence is over.
        recovered = time.monotonic()
        while requests.get(server.base + f"/topics/{SLUG}", timeout=10).status_code != 200:
            assert time.monotonic() - recovered < 15, "still 503 after the server thawed"
            time.sleep(0.2)
        print(f"thawed: 200 again after {time.monotonic() - recovered:.2f} s")


STORY = "1169464713"
RENDERED = {  # what the render cache keeps: a feed, an oEmbed answer, a player page
    "feed": FEED,
    "oembed": f"/oembed?url={SITE}stories/{STORY}",
    "player": f"/player/{STORY}/1169825816",
}
STALE_WARNING = '110 - "Response is Stale"'


def assert_stale_answers(base: str, validators: dict[str, str], limit: float) -> list[float]:
    """Each rendered URL answers 200 with its ETag, and 304 to its ETag, said to be stale."""
    times = []
    for name, path in RENDERED.items():
        answer, took = timed_get(base + path)
        assert answer.status_code == 200, (name, answer.status_code, answer.text[:200])
        assert answer.headers["ETag"] == validators[name], name
        assert answer.headers["Warning"] == STALE_WARNING, name
        conditional, took_304 = timed_get(base + path, headers={"If-None-Match": validators[name]})
        assert conditional.status_code == 304, name
        assert conditional.headers["Warning"] == STALE_WARNING, name
        times += [took, took_304]
    assert max(times) < limit, times
    return times


@pytest.mark.slow
def test_rendered_answers_are_served_stale_while_postgresql_is_frozen_or_down(own_postgres):
    cluster, env = own_postgres
    # One worker: the versions it read are the ones it can stand by when the store fails.
    with Gunicorn({**env, "VERSION_MEMO_SECONDS": "0"}, workers=1) as server:
        validators = {}
        for name, path in RENDERED.items():
            answer = requests.get(server.base + path, timeout=10)
            assert answer.status_code == 200 and "Warning" not in answer.headers, name
            validators[name] = answer.headers["ETag"]

        cluster.signal(signal.SIGSTOP)
        try:
            frozen = assert_stale_answers(server.base, validators, limit=10)
            never_rendered = []
            for path in (f"/topics/{SLUG}/atom.xml", f"/topics/{SLUG}", f"/stories/{STORY}"):
                answer, took = timed_get(server.base + path)
                assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0, path
                never_rendered.append(took)
            assert max(never_rendered) < 10
        finally:
            cluster.signal(signal.SIGCONT)
        print("frozen: stale answers after", ", ".join(f"{t:.3f}" for t in frozen),
              "s; never rendered: 503 after", ", ".join(f"{t:.3f}" for t in never_rendered), "s")

        cluster.stop()  # down: connections refused at once
        down = assert_stale_answers(server.base, validators, limit=5)
        answer = requests.get(server.base + f"/topics/{SLUG}/feed.json", timeout=10)
        assert answer.status_code == 503
        print("down: stale answers after", ", ".join(f"{t:.3f}" for t in down), "s")

        cluster.start()
        recovered = time.monotonic()
        while "Warning" in (answer := requests.get(server.base + FEED, timeout=10)).headers:
            assert time.monotonic() - recovered < 15, "still stale after the server came back"
            time.sleep(0.2)
        assert answer.status_code == 200 and answer.headers["ETag"] == validators["feed"]


@pytest.mark.slow
def test_with_redis_any_process_serves_stale_what_another_rendered(own_postgres, tmp_path):
    """Instance `b` never read a version nor rendered anything before the store froze: the
    versions `a` read, kept in Redis, lead it to what `a` rendered."""
    cluster, env = own_postgres
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    shared = {**env, "REDIS_URL": redis_server.url}
    try:
        with Gunicorn(shared, workers=1) as a, Gunicorn(shared, workers=1) as b:
            validators = {name: requests.get(a.base + path, timeout=10).headers["ETag"]
                          for name, path in RENDERED.items()}
            cluster.signal(signal.SIGSTOP)
            try:
                times = assert_stale_answers(b.base, validators, limit=10)
                answer = requests.get(b.base + f"/topics/{SLUG}/atom.xml", timeout=30)
                assert answer.status_code == 503
            finally:
                cluster.signal(signal.SIGCONT)
            print("another instance: stale answers after", ", ".join(f"{t:.3f}" for t in times), "s")
    finally:
        redis_server.stop()
