"""What a process keeps is bounded, whatever strangers send: junk URLs leave memory where
it was (the render locks), the fast path's URL table keeps the real feeds and its bound
under threads, and the per-process memos stay within the account of docs/scaling.md."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pytest

from serving.rendered import MemoryRenderCache, VersionMemo
from serving.state import app_state

from .conftest import make_app

STORY = "1169464713"


@pytest.fixture
def sample_app(sqlite_url):
    app = make_app(sqlite_url)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    yield app
    app_state(app).store.engine.dispose()


def junk_urls(n: int, start: int = 0) -> list[str]:
    """Feeds of topics, oEmbed answers and players that do not exist, each URL its own."""
    urls = []
    for i in range(start, start + n):
        urls += [
            f"/topics/junk-{i}/rss.xml",
            f"/topics/junk-{i}/podcast.xml",
            f"/oembed?url=http://storyfeed.test/stories/junk{i}",
            f"/stories/junk{i}/oembed.json",
            f"/player/junk{i}/a{i}",
            f"/player/{STORY}/junk{i}",
        ]
    return urls


def traced_bytes() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_junk_urls_leave_no_render_lock_and_no_memory_behind(sample_app, monkeypatch):
    # The remembered versions of topics keep the last 1,024 slugs asked for: fewer here,
    # so that a short warm-up fills them as a long run of junk would.
    monkeypatch.setattr(VersionMemo, "MAX_KEYS", 100)
    client = sample_app.test_client()
    cache = app_state(sample_app).render_cache
    assert isinstance(cache, MemoryRenderCache)

    def junk(groups: int, start: int) -> None:
        for url in junk_urls(groups, start):
            assert client.get(url).status_code == 404, url

    junk(150, 0)  # whatever a process makes once, and the bounded tables filled
    tracemalloc.start()
    try:
        junk(150, 150)  # what replaces objects made before tracing counts as new: not measured
        before = traced_bytes()
        junk(300, 300)
        grown = traced_bytes() - before
    finally:
        tracemalloc.stop()
    # 1,800 junk requests, 1,200 of them 404s inside a render: the leak kept a lock for
    # each (about 250 bytes).
    assert cache._rendering == {}
    assert grown < 100_000, f"{grown} bytes kept after 1,800 junk requests"


def test_threads_waiting_on_a_render_that_fails_leave_no_lock():
    cache = MemoryRenderCache()
    started = threading.Event()

    def failing_render():
        started.set()
        time.sleep(0.05)  # the others queue up behind this render's lock
        raise LookupError("no such topic")

    def ask(_: int) -> str:
        try:
            cache.get_or_render("feed|junk", failing_render)
        except LookupError as exc:
            return str(exc)
        return "rendered"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert started.is_set() and answers == ["no such topic"] * 8
    assert cache._rendering == {}
