"""The render caches: in memory, and in Redis shared across processes, with stampede
protection and a Redis that goes away and comes back."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from serving.redis_cache import RedisRenderCache
from serving.rendered import MemoryRenderCache, Rendered
from serving.state import app_state

from .servers import RedisServer

BODY = Rendered.of(b"<rss>...</rss>" * 100, "application/rss+xml; charset=utf-8",
                   datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))


class CountingRender:
    """A render that takes a while, and counts how often it ran."""

    def __init__(self, seconds: float = 0.2):
        self.seconds = seconds
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> Rendered:
        with self._lock:
            self.calls += 1
        time.sleep(self.seconds)
        return BODY


@pytest.fixture
def shared_redis(redis_url):
    url = redis_url
    prefix = f"test:{uuid.uuid4().hex}:"
    cache = RedisRenderCache.from_url(url, prefix=prefix)
    yield cache
    for key in cache.client.scan_iter(f"{prefix}*"):
        cache.client.delete(key)


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_memory_cache_renders_a_cold_key_once_for_concurrent_threads():
    cache = MemoryRenderCache()
    render = CountingRender()
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: cache.get_or_render("k", render), range(20)))
    assert render.calls == 1 and all(r is BODY for r in results)


def test_memory_cache_evicts_the_least_recently_used():
    cache = MemoryRenderCache(max_entries=2)
    cache.set("a", BODY)
    cache.set("b", BODY)
    cache.get("a")
    cache.set("c", BODY)
    assert cache.get("b") is None and cache.get("a") is BODY


def rendered_of(size: int) -> Rendered:
    """A body whose two forms together take about `size` bytes (random: gzip keeps it)."""
    body = os.urandom(size // 2)
    return Rendered.of(body, "application/rss+xml")


def test_memory_cache_holds_at_most_its_bytes_evicting_the_least_recently_used():
    small = rendered_of(10_000)
    large = rendered_of(5 * small.size)
    assert 5 * small.size - 100 < large.size < 5 * small.size + 100
    cache = MemoryRenderCache(max_bytes=8 * small.size + small.size // 2)
    for key in "abcd":
        cache.set(key, small)
    cache.get("a")
    cache.set("big", large)  # 4 + 5 of 8.5: the least recently used one goes
    assert cache.get("b") is None
    assert all(cache.get(key) is small for key in "acd") and cache.get("big") is large
    cache.set("big", small)  # replaced: counted once, at its new size (4 of 8.5)
    for key in "efgh":
        cache.set(key, small)
    keys = [*"acd", "big", *"efgh"]
    assert all(cache.get(key) is small for key in keys)  # 8 of 8.5
    cache.set("i", small)
    assert cache.get("a") is None and all(cache.get(key) is small for key in [*keys[1:], "i"])


def test_memory_cache_does_not_keep_a_body_larger_than_itself():
    cache = MemoryRenderCache(max_bytes=50_000)
    cache.set("a", rendered_of(10_000))
    assert cache.get_or_render("big", lambda: rendered_of(80_000)).size > 50_000
    assert cache.get("big") is None and cache.get("a") is not None


@pytest.mark.parametrize("with_redis", [False, True])
def test_render_cache_mb_sets_what_a_process_keeps(with_redis, request, sqlite_url):
    from .conftest import make_app

    config = {"RENDER_CACHE_MB": "3"}
    if with_redis:
        config["REDIS_URL"] = request.getfixturevalue("redis_url")
    app = make_app(sqlite_url, **config)
    try:
        cache = app_state(app).render_cache
        local = cache.local if with_redis else cache
        assert local.max_bytes == 3 * 1024 * 1024
    finally:
        app_state(app).store.engine.dispose()


def test_redis_round_trip_keeps_every_field(shared_redis):
    shared_redis.set("feed", BODY)
    assert shared_redis.get("feed") == BODY
    assert shared_redis.client.ttl(shared_redis.prefix + "render:feed") > 0


def test_redis_stampede_is_one_render_across_clients(shared_redis):
    # Separate clients stand for separate worker processes.
    caches = [RedisRenderCache.from_url(os.environ["TEST_REDIS_URL"], prefix=shared_redis.prefix)
              for _ in range(5)]
    render = CountingRender(0.3)
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda i: caches[i % 5].get_or_render("cold", render), range(50)))
    assert render.calls == 1
    assert all(r == BODY for r in results)
    assert int(shared_redis.client.get(shared_redis.renders_key)) == 1


def test_a_waiter_renders_itself_when_the_lock_holder_never_finishes(shared_redis):
    shared_redis.wait = 0.2
    shared_redis.client.set(shared_redis.prefix + "lock:stuck", "someone-else", px=5000)
    render = CountingRender(0)
    assert shared_redis.get_or_render("stuck", render) == BODY
    assert render.calls == 1


@pytest.mark.redis
def test_redis_going_away_and_coming_back(own_redis):
    # Two caches on one Redis stand for two processes.
    a = RedisRenderCache.from_url(own_redis.url, retry_after=0.2)
    b = RedisRenderCache.from_url(own_redis.url, retry_after=0.2)
    render = CountingRender(0)
    a.get_or_render("k1", render)
    assert b.get_or_render("k1", render) == BODY
    assert render.calls == 1  # b found it in Redis

    own_redis.stop()
    started = time.monotonic()
    for _ in range(20):
        assert a.get_or_render("k2", render) == BODY  # never fails while Redis is down
    assert time.monotonic() - started < 5
    assert render.calls == 2  # rendered once, then kept in the process
    assert a.status() == "redis unreachable"

    own_redis.start()  # an empty Redis, as after a restart
    time.sleep(0.3)
    a.get_or_render("k3", render)
    assert b.get_or_render("k3", render) == BODY
    assert render.calls == 3  # shared through Redis again
    assert a.status() == "redis"


@pytest.mark.redis
def test_a_warm_key_costs_no_redis_round_trip(own_redis):
    cache = RedisRenderCache.from_url(own_redis.url)
    cache.get_or_render("k", CountingRender(0))
    own_redis.stop()  # were Redis asked, the answer would now be a miss
    assert cache.get("k") == BODY


def test_change_notices_reach_every_subscriber(shared_redis):
    from serving.redis_cache import RedisChangeNotices

    url = os.environ["TEST_REDIS_URL"]
    heard = [threading.Event(), threading.Event()]
    listeners = [RedisChangeNotices(url, shared_redis.prefix + "changes") for _ in heard]
    for notices, event in zip(listeners, heard, strict=True):
        notices.subscribe(event.set)
    time.sleep(0.3)  # subscribed (each thread also notifies once on connecting)
    for event in heard:
        event.clear()
    RedisChangeNotices(url, shared_redis.prefix + "changes").publish(topics=frozenset({"world"}))
    assert all(event.wait(2) for event in heard)


def test_a_write_in_one_app_is_seen_by_another_despite_a_long_memo(sqlite_url, shared_redis):
    from serving.context import current_version
    from stories.validate import parse_story

    from .conftest import make_app, story_record

    settings = {"REDIS_URL": os.environ["TEST_REDIS_URL"], "REDIS_PREFIX": shared_redis.prefix,
                "VERSION_MEMO_SECONDS": 3600}
    writer, reader = make_app(sqlite_url, **settings), make_app(sqlite_url, **settings)
    with reader.app_context():
        before = current_version()
    time.sleep(0.3)
    app_state(writer).store.write([parse_story(story_record())[0]])
    deadline = time.monotonic() + 2
    with reader.app_context():
        while current_version() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert current_version() > before
