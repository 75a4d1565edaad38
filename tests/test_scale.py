"""Scaled out for real: gunicorn instances sharing PostgreSQL and Redis, a cold-feed
stampede, Redis pulled away under load, PostgreSQL unreachable."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from stories import migrate
from stories.store import create_engine

from .conftest import _with_search_path, story_record
from .servers import Gunicorn, RedisServer, flask_cli, service_env

SLUG = "north-korean-defectors"
FEED = f"/topics/{SLUG}/rss.xml"
TOKEN = "scale-test-token"

pytestmark = pytest.mark.slow  # gunicorn instances, for real


@pytest.fixture
def shared_database(pg_schema):
    base, schema = pg_schema
    url = _with_search_path(base, schema)
    engine = create_engine(url)
    with engine.begin() as conn:
        # Every table of the schema, whichever part made it: a list here fell behind
        # each new migration's tables, and the next test's upgrade then met them.
        tables = conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").scalars().all()
        for table in tables:
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def shared_redis_url(redis_url):
    url = redis_url
    prefix = f"scale-{uuid.uuid4().hex[:8]}:"
    yield url, prefix
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def env_for(database_url: str, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    settings = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix,
                "SITE_URL": "http://news.example.org/", "INGEST_TOKENS": TOKEN,
                "VERSION_MEMO_SECONDS": "3600"}
    env = service_env(**{**settings, **extra})
    assert flask_cli(env, "stories", "sample").returncode == 0
    return env


def renders(redis_url: str, prefix: str) -> int:
    return int(redis.Redis.from_url(redis_url).get(f"{prefix}stats:renders") or 0)


def test_a_write_on_one_instance_is_seen_by_the_other_at_once(shared_database, shared_redis_url):
    redis_url, prefix = shared_redis_url
    # A memo of an hour: only the change notices can make instance B see the write.
    env = env_for(shared_database, redis_url, prefix)
    with Gunicorn(env) as a, Gunicorn(env) as b:
        first_a = requests.get(a.base + FEED, timeout=10)
        first_b = requests.get(b.base + FEED, timeout=10)
        assert first_a.status_code == first_b.status_code == 200
        assert first_a.headers["ETag"] == first_b.headers["ETag"]
        assert first_a.content == first_b.content
        for _ in range(4):  # warm every worker of B
            requests.get(b.base + FEED, timeout=10)

        pushed = requests.post(
            a.base + "/api/stories", timeout=10,
            headers={"Authorization": f"Bearer {TOKEN}"},
            json=story_record(id="2030", title="Pushed to instance A", topics=[SLUG],
                              published="2030-01-01T00:00:00Z"),
        )
        assert pushed.status_code == 200, pushed.text
        for _ in range(4):  # whichever worker of B answers, the next response has it
            after = requests.get(b.base + FEED, timeout=10)
            assert b"Pushed to instance A" in after.content
            assert after.headers["ETag"] != first_b.headers["ETag"]
        assert requests.get(a.base + FEED, timeout=10).headers["ETag"] == after.headers["ETag"]


def test_fifty_concurrent_requests_for_a_cold_feed_render_it_once(shared_database, shared_redis_url):
    redis_url, prefix = shared_redis_url
    env = env_for(shared_database, redis_url, prefix)
    with Gunicorn(env) as a, Gunicorn(env) as b:
        for server in (a, b):  # boot every worker, so the stampede meets warm processes
            for _ in range(4):
                requests.get(server.base + "/healthz", timeout=10)
        before = renders(redis_url, prefix)
        barrier = threading.Barrier(50)

        def fetch(i: int) -> requests.Response:
            barrier.wait()
            return requests.get((a, b)[i % 2].base + FEED, timeout=30)

        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(fetch, range(50)))
        assert all(r.status_code == 200 for r in answers)
        assert len({r.headers["ETag"] for r in answers}) == 1
        assert renders(redis_url, prefix) - before == 1


@pytest.mark.redis  # a redis-server of its own
def test_redis_pulled_away_under_load_fails_no_request(shared_database, tmp_path):
    own = RedisServer(tmp_path)
    failures, statuses, stop = [], [], threading.Event()
    prefix = "fault:"
    try:
        own.start()
        env = env_for(shared_database, own.url, prefix, VERSION_MEMO_SECONDS="0.25")
        with Gunicorn(env) as server:
            def load():
                session = requests.Session()
                while not stop.is_set():
                    try:
                        statuses.append(session.get(server.base + FEED, timeout=10).status_code)
                    except requests.RequestException as exc:
                        failures.append(exc)

            workers = [threading.Thread(target=load) for _ in range(4)]
            for worker in workers:
                worker.start()
            time.sleep(1.0)
            own.stop()
            time.sleep(2.0)  # under load with Redis gone
            down = len(statuses)
            own.start()
            time.sleep(2.5)  # Redis is tried again after a short pause
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
            assert not failures
            assert statuses and set(statuses) == {200}
            assert len(statuses) > down  # it went on answering after Redis came back
            # The shared cache is used again: a change renders once into the new Redis,
            # and every later request is a hit.
            pushed = flask_cli(env, "stories", "import", "-", stdin=json.dumps(
                [story_record(id="2040", topics=[SLUG], title="After the outage",
                              published="2030-01-01T00:00:00Z")]))
            assert pushed.returncode == 0, pushed.stderr
            time.sleep(0.5)
            for _ in range(10):
                assert b"After the outage" in requests.get(server.base + FEED, timeout=10).content
            assert renders(own.url, prefix) == 1
            assert list(redis.Redis.from_url(own.url).scan_iter(f"{prefix}render:*"))
            health = requests.get(server.base + "/healthz", timeout=10).json()
            assert health["checks"]["redis"] == {"status": "ok"}
    finally:
        stop.set()
        own.stop()


def test_postgresql_unreachable_is_a_503_with_retry_after(tmp_path):
    env = service_env(DATABASE_URL="postgresql://postgres@127.0.0.1:1/none?connect_timeout=2",
                      SITE_URL="http://news.example.org/")
    with Gunicorn(env, workers=1) as server:
        for path in (FEED, f"/topics/{SLUG}", "/oembed?url=http://news.example.org/stories/1"):
            answer = requests.get(server.base + path, timeout=30)
            assert answer.status_code == 503, path
            assert int(answer.headers["Retry-After"]) > 0
            assert "Traceback" not in answer.text and "psycopg" not in answer.text
        health = requests.get(server.base + "/healthz", timeout=30)
        assert health.status_code == 503
        assert health.json()["checks"]["store"]["status"] == "unavailable"
