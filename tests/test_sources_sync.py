"""Sync against real HTTP servers on 127.0.0.1: caching, outages, malformed documents,
retries, redirects, size caps, removal, the loop, and requests-cache on Redis."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from requests_cache.backends import RedisCache, SQLiteCache

from serving.settings import load_settings
from sources.config import SourcesConfig
from sources.fetch import FetchSettings, HTTPRetriever
from sources.model import Outcome, Source
from sources.state import SourceStates
from sources.sync import Syncer
from stories.store import StoryStore, stories_changed

from .conftest import story_record

FAST = FetchSettings(connect_timeout=2, read_timeout=0.5, retries=1, backoff_factor=0)


@pytest.fixture
def retriever(tmp_path):
    r = HTTPRetriever(SQLiteCache(db_path=str(tmp_path / "http-cache.sqlite3")), FAST)
    yield r
    r.close()


@pytest.fixture
def sqlite_store(sqlite_url):
    store = StoryStore.from_url(sqlite_url)
    yield store
    store.engine.dispose()


def make_syncer(store, retriever, **kwargs) -> Syncer:
    return Syncer(store, SourceStates(store.engine), retriever, **kwargs)


def records(*stories) -> str:
    return json.dumps(list(stories))


def source(upstream, path="/stories.json", **fields) -> Source:
    settings = {
        "name": "newsroom",
        "url": upstream.url(path),
        "kind": "records",
        "allow_private": True,
    }
    settings.update(fields)
    return Source(**settings)


ONE = story_record(id="1001", topics=["world"])
TWO = story_record(
    id="1002", title="Another story", topics=["world"], published="2024-01-03T10:00:00-05:00"
)


# -- caching: 304s and changes ------------------------------------------------------


def test_first_sync_stores_then_304_changes_nothing_then_a_change_is_picked_up(
    store, retriever, upstream
):
    upstream.serve("/stories.json", records(ONE, TWO))
    syncer = make_syncer(store, retriever)
    src = source(upstream, topics=("north-korean-defectors",))

    first = syncer.sync(src)
    assert first.outcome is Outcome.FETCHED
    assert (first.added, first.updated, first.unchanged, first.invalid) == (2, 0, 0, 0)
    assert store.get_story("1001").topics == ("world", "north-korean-defectors")
    version = store.version()

    second = syncer.sync(src)
    assert second.outcome is Outcome.NOT_MODIFIED
    assert (second.added, second.updated, second.unchanged) == (0, 0, 0)
    # The second request was conditional and upstream answered 304 with no body.
    assert upstream.statuses("/stories.json") == [200, 304]
    assert (
        upstream.seen_at("/stories.json")[1].headers["If-None-Match"]
        == upstream.routes["/stories.json"].etag
    )
    assert store.version() == version

    upstream.serve(
        "/stories.json",
        records(dict(ONE, title="A new headline"), TWO, story_record(id="1003", topics=["world"])),
    )
    third = syncer.sync(src)
    assert third.outcome is Outcome.FETCHED
    assert (third.added, third.updated, third.unchanged) == (1, 1, 1)
    assert store.get_story("1001").title == "A new headline"
    assert store.version() > version
    assert second.line() == "newsroom: not modified; 0 added, 0 updated, 0 unchanged, 0 invalid"


def test_an_upstream_without_validators_is_fetched_again_but_not_parsed_again(
    sqlite_store, retriever, upstream
):
    upstream.serve("/stories.json", records(ONE), validators=False)
    syncer = make_syncer(sqlite_store, retriever)
    assert syncer.sync(source(upstream)).added == 1
    again = syncer.sync(source(upstream))
    assert again.outcome is Outcome.FETCHED
    assert (again.added, again.updated, again.unchanged) == (0, 0, 0)
    assert upstream.statuses("/stories.json") == [200, 200]


def test_the_same_records_in_new_bytes_are_an_idempotent_upsert(sqlite_store, retriever, upstream):
    upstream.serve("/stories.json", records(ONE, TWO))
    syncer = make_syncer(sqlite_store, retriever)
    syncer.sync(source(upstream))
    upstream.serve(
        "/stories.json",
        "\n".join(json.dumps(r) for r in (TWO, ONE)) + "\n",
        content_type="application/x-ndjson",
    )
    again = syncer.sync(source(upstream))
    assert again.outcome is Outcome.FETCHED
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)


def test_a_write_from_sync_announces_the_changed_topics(sqlite_store, retriever, upstream):
    upstream.serve("/stories.json", records(ONE))
    seen = []

    def listener(sender, topics):
        seen.append(set(topics))

    stories_changed.connect(listener)
    try:
        make_syncer(sqlite_store, retriever).sync(source(upstream, topics=("extra",)))
    finally:
        stories_changed.disconnect(listener)
    assert seen == [{"world", "extra"}]


# -- outages --------------------------------------------------------------------------


def test_upstream_500_serves_the_stale_copy_and_keeps_the_stories(
    sqlite_store, retriever, upstream
):
    upstream.serve("/stories.json", records(ONE, TWO))
    syncer = make_syncer(sqlite_store, retriever)
    syncer.sync(source(upstream))

    upstream.serve("/stories.json", b"", status=500)
    report = syncer.sync(source(upstream))
    assert report.outcome is Outcome.SERVED_STALE
    assert "HTTP 500" in report.detail
    assert report.line().startswith("newsroom: served stale (HTTP 500")
    # One retry (FAST.retries) before giving up.
    assert upstream.statuses("/stories.json") == [200, 500, 500]
    assert sqlite_store.count_stories() == 2

    upstream.serve("/stories.json", records(ONE, TWO))
    assert syncer.sync(source(upstream)).outcome is Outcome.NOT_MODIFIED


def test_a_stale_copy_stands_in_even_for_an_upstream_without_validators(
    sqlite_store, retriever, upstream
):
    upstream.serve("/stories.json", records(ONE), validators=False)
    syncer = make_syncer(sqlite_store, retriever)
    syncer.sync(source(upstream))
    upstream.serve("/stories.json", b"", status=503)
    report = syncer.sync(source(upstream))
    assert report.outcome is Outcome.SERVED_STALE and "HTTP 503" in report.detail


def test_an_upstream_that_times_out_serves_the_stale_copy(sqlite_store, retriever, upstream):
    upstream.serve("/stories.json", records(ONE))
    syncer = make_syncer(sqlite_store, retriever)
    syncer.sync(source(upstream))
    upstream.routes["/stories.json"].delay = 1.5  # read timeout is 0.5 s
    report = syncer.sync(source(upstream))
    assert report.outcome is Outcome.SERVED_STALE
    assert "timed out" in report.detail
    assert sqlite_store.get_story("1001") is not None


def test_a_first_pull_that_fails_is_reported_as_failed(sqlite_store, retriever, upstream):
    upstream.serve("/stories.json", b"", status=502)
    report = make_syncer(sqlite_store, retriever).sync(source(upstream))
    assert report.outcome is Outcome.FAILED
    assert report.detail == "upstream answered HTTP 502 Bad Gateway"
    assert report.line() == (
        "newsroom: failed (upstream answered HTTP 502 Bad Gateway); "
        "0 added, 0 updated, 0 unchanged, 0 invalid"
    )


def test_a_closed_port_is_reported_as_failed(sqlite_store, retriever, upstream):
    port = upstream.port
    upstream.close()
    src = Source(
        name="gone", url=f"http://127.0.0.1:{port}/x.json", kind="records", allow_private=True
    )
    report = make_syncer(sqlite_store, retriever).sync(src)
    assert report.outcome is Outcome.FAILED
    assert report.detail.startswith("could not connect:")


def test_a_5xx_is_retried(sqlite_store, retriever, upstream):
    upstream.serve("/stories.json", records(ONE), fail_first=1, fail_status=503)
    report = make_syncer(sqlite_store, retriever).sync(source(upstream))
    assert report.outcome is Outcome.FETCHED and report.added == 1
    assert upstream.statuses("/stories.json") == [503, 200]


def test_a_response_over_the_size_cap_is_refused(sqlite_store, tmp_path, upstream):
    small = HTTPRetriever(
        SQLiteCache(db_path=str(tmp_path / "c.sqlite3")),
        FetchSettings(read_timeout=2, retries=0, max_bytes=100),
    )
    upstream.serve("/stories.json", records(ONE))
    try:
        report = make_syncer(sqlite_store, small).sync(source(upstream))
    finally:
        small.close()
    assert report.outcome is Outcome.FAILED
    assert "more than the 100 allowed" in report.detail
    assert sqlite_store.count_stories() == 0


def test_an_oversized_answer_after_a_good_one_serves_the_stale_copy(
    sqlite_store, tmp_path, upstream
):
    capped = HTTPRetriever(
        SQLiteCache(db_path=str(tmp_path / "c.sqlite3")),
        FetchSettings(read_timeout=2, retries=0, max_bytes=2_000),
    )
    syncer = make_syncer(sqlite_store, capped)
    try:
        upstream.serve("/stories.json", records(ONE))
        assert syncer.sync(source(upstream)).outcome is Outcome.FETCHED
        upstream.serve("/stories.json", records(*(story_record(id=str(i)) for i in range(20))))
        report = syncer.sync(source(upstream))
    finally:
        capped.close()
    assert report.outcome is Outcome.SERVED_STALE
    assert "more than the 2000 allowed" in report.detail
    assert sqlite_store.count_stories() == 1


def test_a_redirect_loop_after_a_good_copy_serves_the_stale_copy(sqlite_store, retriever, upstream):
    upstream.serve("/stories.json", records(ONE))
    syncer = make_syncer(sqlite_store, retriever)
    syncer.sync(source(upstream))
    upstream.redirect("/stories.json", upstream.url("/loop"))
    upstream.redirect("/loop", upstream.url("/stories.json"))
    report = syncer.sync(source(upstream))
    assert report.outcome is Outcome.SERVED_STALE and report.detail == "too many redirects"


# -- malformed documents and invalid records ---------------------------------------------


def test_a_malformed_document_is_reported_and_other_sources_still_sync(
    sqlite_store, retriever, upstream
):
    upstream.serve("/broken.json", '{"stories": [{"id": "1001",')
    upstream.serve("/good.json", records(ONE, story_record(id="1002", published="yesterday")))
    upstream.serve("/page.json", "<html><body>Sign in</body></html>", content_type="text/html")
    syncer = make_syncer(sqlite_store, retriever)
    broken = source(upstream, "/broken.json", name="broken")
    page = source(upstream, "/page.json", name="page")
    good = source(upstream, "/good.json", name="good")
    first, html_page, second = syncer.sync_all([broken, page, good])

    assert first.outcome is Outcome.FAILED and first.detail.startswith("not valid JSON")
    assert (
        html_page.outcome is Outcome.FAILED
        and html_page.detail == "upstream sent text/html, not JSON"
    )
    assert second.outcome is Outcome.FETCHED
    assert (second.added, second.invalid) == (1, 1)
    assert second.problems == (
        'good: record 2 (id 1002): published: "yesterday" is not an RFC 3339 or RFC 822 date',
    )
    # Unchanged upstream (a 304) of a document that failed is parsed, and reported, again.
    again = syncer.sync(broken)
    assert upstream.statuses("/broken.json") == [200, 304]
    assert again.outcome is Outcome.FAILED and again.detail.startswith("not valid JSON")


def test_a_feed_source_serving_something_else_fails(sqlite_store, retriever, upstream):
    upstream.serve(
        "/feed.xml", "<rss><channel><item><title>cut sh", content_type="application/rss+xml"
    )
    report = make_syncer(sqlite_store, retriever).sync(source(upstream, "/feed.xml", kind="feed"))
    assert report.outcome is Outcome.FAILED
    assert report.detail.startswith("not a well-formed feed")


# -- redirects ----------------------------------------------------------------------------


def test_a_redirected_source_gets_its_304_at_the_end_of_the_redirect(
    sqlite_store, retriever, upstream
):
    upstream.redirect("/old.json", upstream.url("/new.json"))
    upstream.serve("/new.json", records(ONE))
    syncer = make_syncer(sqlite_store, retriever)
    assert syncer.sync(source(upstream, "/old.json")).outcome is Outcome.FETCHED
    assert syncer.sync(source(upstream, "/old.json")).outcome is Outcome.NOT_MODIFIED
    assert upstream.statuses("/old.json") == [301, 301]
    assert upstream.statuses("/new.json") == [200, 304]

    upstream.serve("/new.json", b"", status=500)
    stale = syncer.sync(source(upstream, "/old.json"))
    assert stale.outcome is Outcome.SERVED_STALE and "HTTP 500" in stale.detail


def test_redirect_loops_are_cut_short(sqlite_store, retriever, upstream):
    upstream.redirect("/a", upstream.url("/b"))
    upstream.redirect("/b", upstream.url("/a"))
    report = make_syncer(sqlite_store, retriever).sync(source(upstream, "/a"))
    assert report.outcome is Outcome.FAILED and report.detail == "too many redirects"
    assert len(upstream.seen) == FAST.max_redirects + 1


# -- removal ------------------------------------------------------------------------------


def test_a_story_that_disappears_upstream_stays_unless_the_source_opts_in(
    sqlite_store, retriever, upstream
):
    syncer = make_syncer(sqlite_store, retriever)
    upstream.serve("/keep.json", records(ONE, TWO))
    upstream.serve("/remove.json", records(story_record(id="2001"), story_record(id="2002")))
    keep = source(upstream, "/keep.json", name="keep")
    remove = source(upstream, "/remove.json", name="remove", remove_missing=True)
    syncer.sync_all([keep, remove])

    upstream.serve("/keep.json", records(ONE))
    upstream.serve("/remove.json", records(story_record(id="2001")))
    kept, removed = syncer.sync_all([keep, remove])
    assert kept.removed == 0 and sqlite_store.get_story("1002") is not None
    assert removed.removed == 1 and sqlite_store.get_story("2002") is None
    assert removed.line().endswith("0 invalid, 1 removed")


def test_removal_spares_stories_another_source_still_has_and_waits_for_a_clean_pull(
    sqlite_store, retriever, upstream
):
    syncer = make_syncer(sqlite_store, retriever)
    shared = story_record(id="3001")
    upstream.serve("/a.json", records(shared, story_record(id="3002"), story_record(id="3003")))
    upstream.serve("/b.json", records(shared))
    a = source(upstream, "/a.json", name="a", remove_missing=True)
    b = source(upstream, "/b.json", name="b")
    syncer.sync_all([a, b])

    # A pull with an invalid record removes nothing: the invalid one may be a missing id.
    upstream.serve("/a.json", records(story_record(id="3002", url="not a url")))
    assert syncer.sync(a).removed == 0
    assert sqlite_store.count_stories() == 3

    upstream.serve("/a.json", records(story_record(id="3002")))
    report = syncer.sync(a)
    assert report.removed == 1  # 3003; 3001 is still in source b
    assert sqlite_store.get_story("3001") is not None and sqlite_store.get_story("3003") is None


# -- the loop -------------------------------------------------------------------------------


def test_the_loop_pulls_each_source_on_its_interval_and_stops_when_asked(
    sqlite_store, retriever, upstream
):
    upstream.serve("/fast.json", records(ONE))
    upstream.serve("/slow.json", records(TWO))
    fast = source(upstream, "/fast.json", name="fast", interval=1)
    slow = source(upstream, "/slow.json", name="slow", interval=3600)
    reports = []
    stop = threading.Event()
    syncer = make_syncer(sqlite_store, retriever)
    thread = threading.Thread(target=syncer.run_forever, args=([fast, slow], stop, reports.append))
    thread.start()
    time.sleep(2.6)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(upstream.seen_at("/fast.json")) >= 2
    assert len(upstream.seen_at("/slow.json")) == 1
    assert [r.source for r in reports].count("slow") == 1


# -- requests-cache on Redis -------------------------------------------------------------------


def test_requests_cache_on_redis(sqlite_store, upstream, tmp_path, redis_url):
    url = redis_url
    import redis

    connection = redis.Redis.from_url(url)
    prefix = f"storyfeed-test-{uuid.uuid4().hex}:"
    namespace = prefix + "http-cache"
    # The same wiring as `sync`: REDIS_URL set means requests-cache on Redis.
    settings = load_settings({"REDIS_URL": url, "REDIS_PREFIX": prefix, "SOURCES_RETRIES": "1"})
    retriever = SourcesConfig.from_settings(settings, tmp_path).retriever()
    assert isinstance(retriever.backend, RedisCache)
    try:
        upstream.serve("/stories.json", records(ONE))
        syncer = make_syncer(sqlite_store, retriever)
        assert syncer.sync(source(upstream)).outcome is Outcome.FETCHED
        assert list(connection.scan_iter(f"{namespace}:*"))
        assert syncer.sync(source(upstream)).outcome is Outcome.NOT_MODIFIED
        assert upstream.statuses("/stories.json") == [200, 304]
        upstream.serve("/stories.json", b"", status=503)
        assert syncer.sync(source(upstream)).outcome is Outcome.SERVED_STALE
    finally:
        for key in connection.scan_iter(f"{namespace}*"):
            connection.delete(key)
        retriever.close()
    assert not list(connection.scan_iter(f"{namespace}*"))
