"""The WSGI fast path (serving/fastpath.py) answers a warm feed or oEmbed request exactly
as Flask does, status, headers and body, without Flask; anything else still goes to Flask.

The feed and oEmbed HTTP tests (test_feeds_http, test_oembed_endpoint, test_cache_keys,
test_security_headers, test_http_hostile) run with the fast path on and off (`both_paths`).
"""

from __future__ import annotations

from contextlib import contextmanager

import flask
import pytest

from serving.state import app_state

from .conftest import make_app
from .feeds_support import SAMPLE_SLUG, SITE_FEEDS, TOPIC_FEEDS

STORY = "1169464713"
OEMBED = f"/oembed?url=http://storyfeed.test/stories/{STORY}&maxwidth=600"
URLS = [*TOPIC_FEEDS.values(), *SITE_FEEDS.values(), OEMBED, f"/stories/{STORY}/oembed.xml"]


def sample(sqlite_url, **config):
    app = make_app(sqlite_url, **config)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    return app


@pytest.fixture
def apps(tmp_path):
    """The sample served with the fast path and without, from one database."""
    from .conftest import migrated_sqlite

    url = migrated_sqlite(tmp_path / "both.sqlite3")
    fast = sample(url, PROXY_HOPS="1")
    flask_only = make_app(url, PROXY_HOPS="1", FAST_PATH="off")
    yield fast, flask_only
    for app in (fast, flask_only):
        app_state(app).store.engine.dispose()


@contextmanager
def flask_runs(app):
    """Endpoints Flask dispatched to, meanwhile."""
    seen: list[str] = []

    def started(sender, **_):
        seen.append(flask.request.endpoint)

    with flask.request_started.connected_to(started, app):
        yield seen


def requests_of(etag: str, last_modified: str) -> list[tuple[str, dict]]:
    return [
        ("GET", {}),
        ("HEAD", {}),
        ("GET", {"Accept-Encoding": "gzip, deflate"}),
        ("HEAD", {"Accept-Encoding": "gzip"}),
        ("GET", {"Accept-Encoding": "gzip;q=0"}),
        ("GET", {"If-None-Match": etag}),
        ("HEAD", {"If-None-Match": etag}),
        ("GET", {"If-None-Match": f'"other", {etag}'}),
        ("GET", {"If-None-Match": "*"}),
        ("GET", {"If-None-Match": '"other"'}),
        ("GET", {"If-Modified-Since": last_modified}),
        ("GET", {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}),
        ("GET", {"If-Modified-Since": "Fri, 01 Jan 99999 00:00:00 GMT"}),  # unreadable: ignored
        ("GET", {"If-Modified-Since": "garbage"}),
        ("GET", {"X-Forwarded-Proto": "https"}),  # HSTS
        ("GET", {"Origin": "https://elsewhere.example"}),
    ]


@pytest.mark.parametrize("url", URLS)
def test_fast_path_answers_warm_requests_as_flask_does_without_flask(apps, url):
    fast, flask_only = apps
    fast_client, flask_client = fast.test_client(), flask_only.test_client()
    first = fast_client.get(url)  # through Flask: the view remembers the URL
    assert first.status_code == 200
    fast_client.get(url, headers={"X-Forwarded-Proto": "https"})  # another URL: https
    last_modified = first.headers.get("Last-Modified", "Sat, 01 Jan 2000 00:00:00 GMT")
    for method, headers in requests_of(first.headers["ETag"], last_modified):
        headers = {**headers, "X-Request-ID": "the-same-id"}  # else each answer has its own
        with flask_runs(fast) as dispatched:
            ours = fast_client.open(url, method=method, headers=headers)
        theirs = flask_client.open(url, method=method, headers=headers)
        where = (url, method, headers)
        assert dispatched == [], where
        assert ours.status == theirs.status, where
        assert ours.headers.to_wsgi_list() == theirs.headers.to_wsgi_list(), where
        assert ours.data == theirs.data, where


def test_what_the_fast_path_does_not_know_goes_to_flask(apps):
    fast, _ = apps
    client = fast.test_client()
    feed = TOPIC_FEEDS["rss"]
    client.get(feed)
    with flask_runs(fast) as dispatched:
        client.get(feed, headers={"Range": "bytes=0-10"})
        client.get(feed + "?limit=50")  # the same answer, but another URL
        client.get(feed, headers={"Host": "other.example"})  # another Host
        client.options(feed)
        client.get(feed.replace(SAMPLE_SLUG, "no-such-topic"))
        assert client.get(feed + "%00").status_code == 400
    assert len(dispatched) == 6


def test_a_write_sends_the_next_request_to_flask_and_the_new_feed_out(sqlite_url):
    from stories.validate import parse_story

    from .conftest import story_record

    app = sample(sqlite_url)
    client = app.test_client()
    feed = TOPIC_FEEDS["rss"]
    before = client.get(feed)
    with flask_runs(app) as dispatched:
        assert client.get(feed).headers["ETag"] == before.headers["ETag"] and dispatched == []
        story = parse_story(story_record(id="5000", topics=[SAMPLE_SLUG], title="Just in"))[0]
        app_state(app).store.write([story])
        after = client.get(feed, headers={"If-None-Match": before.headers["ETag"]})
        assert after.status_code == 200 and b"Just in" in after.data
        assert dispatched == ["feeds.topic_rss"]
        assert client.get(feed, headers={"If-None-Match": after.headers["ETag"]}).status_code == 304
    assert dispatched == ["feeds.topic_rss"]


def test_the_fast_path_keeps_a_bounded_number_of_urls(sqlite_url, monkeypatch):
    from serving.fastpath import FastPath

    monkeypatch.setattr(FastPath, "MAX_URLS", 5)
    app = sample(sqlite_url)
    client = app.test_client()
    for url in [*SITE_FEEDS.values(), *TOPIC_FEEDS.values()]:  # 7 answers
        assert client.get(url).status_code == 200
    assert len(app_state(app).fast_path.answers) == 5


def test_the_fast_path_keeps_a_few_spellings_of_one_answer(sqlite_url):
    from serving.fastpath import FastPath

    app = sample(sqlite_url)
    client = app.test_client()
    for i in range(50):  # SITE_URL is set: any Host is answered, each its own URL here
        assert client.get(SITE_FEEDS["rss"], headers={"Host": f"h{i}.example"}).status_code == 200
    assert len(app_state(app).fast_path.answers) == FastPath.MAX_SPELLINGS
    with flask_runs(app) as dispatched:  # the first ones stay, and the others are answered
        assert client.get(SITE_FEEDS["rss"], headers={"Host": "h0.example"}).status_code == 200
        assert client.get(SITE_FEEDS["rss"], headers={"Host": "h49.example"}).status_code == 200
    assert dispatched == ["feeds.site_rss"]


def test_parameters_no_view_reads_do_not_push_the_real_feed_out(sqlite_url):
    from serving.fastpath import FastPath

    app = sample(sqlite_url)
    client = app.test_client()
    feed = TOPIC_FEEDS["podcast"]
    real = client.get(feed)
    with flask_runs(app) as dispatched:
        for i in range(10_000):
            answer = client.get(f"{feed}?utm={i}")
            assert answer.status_code == 200 and answer.data == real.data, i
        assert client.get(feed).headers["ETag"] == real.headers["ETag"]
    assert dispatched == []  # every one answered by the fast path, the real feed's entry
    assert len(app_state(app).fast_path.answers) == 1 < FastPath.MAX_URLS


def test_a_parameter_the_view_reads_is_never_answered_for_it(apps):
    fast, flask_only = apps
    fast_client, flask_client = fast.test_client(), flask_only.test_client()
    feed = TOPIC_FEEDS["rss"]
    fast_client.get(feed)
    fast_client.get(OEMBED)
    for url in [f"{feed}?utm=1&limit=1", f"{feed}?limit=1&limit=50", f"{feed}?limit=50",
                f"{feed}?utm=%00", f"{feed}?%00=1", f"{feed}?limit=x",
                f"{OEMBED}&maxwidth=200", f"{OEMBED}&format=xml", f"{OEMBED}&theme=dark",
                OEMBED.replace(STORY, "0000")]:
        ours, theirs = fast_client.get(url), flask_client.get(url)
        assert (ours.status, ours.data) == (theirs.status, theirs.data), url
    with flask_runs(fast) as dispatched:
        assert fast_client.get(f"{feed}?utm=1&utm=2&x").status_code == 200
        assert fast_client.get(f"{OEMBED}&utm=1&maxwidth=900").status_code == 200  # the first maxwidth
    assert dispatched == []


def test_the_url_table_under_threads_raises_nothing_and_keeps_its_bound(apps, monkeypatch):
    import sys
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from serving.fastpath import Answer, FastPath

    # 16 threads x 20,000 URLs: the table of before raised KeyError and RuntimeError
    # (dictionary changed size during iteration) and grew past its bound in such a run.
    monkeypatch.setattr(FastPath, "MAX_URLS", 64)
    fast_path = app_state(apps[0]).fast_path
    done = threading.Event()
    sizes = []

    def watch() -> None:
        while not done.is_set():
            sizes.append(len(fast_path.answers))

    def hammer(thread: int) -> None:
        for i in range(20_000):
            environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "storyfeed.test", "REQUEST_METHOD": "GET",
                       "PATH_INFO": f"/topics/t{thread}-{i % 500}/rss.xml", "QUERY_STRING": f"utm={i}"}
            fast_path.remember(environ, Answer(f"key{thread}-{i}", None, 1, 300), ("limit",))
            fast_path.find(environ)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(hammer, range(16)))  # re-raises what a thread raised
    finally:
        done.set()
        watcher.join()
        sys.setswitchinterval(switch)
    assert max(sizes) <= 64 and len(fast_path.answers) == 64
    assert sum(fast_path._spellings.values()) == 64


def test_a_url_too_long_to_keep_is_answered_by_flask(sqlite_url):
    from serving.fastpath import FastPath

    app = sample(sqlite_url)
    client = app.test_client()
    host = ".".join(["h" * 60] * (FastPath.MAX_URL_CHARS // 60 + 1)) + ".example"  # SITE_URL is set: any Host
    for _ in range(2):
        assert client.get(SITE_FEEDS["rss"], headers={"Host": host}).status_code == 200
    assert len(app_state(app).fast_path.answers) == 0
