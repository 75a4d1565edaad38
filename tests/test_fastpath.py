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

    monkeypatch.setattr(FastPath, "MAX_URLS", 10)
    app = sample(sqlite_url)
    client = app.test_client()
    for i in range(50):  # SITE_URL is set: any Host is answered, each its own URL here
        assert client.get(SITE_FEEDS["rss"], headers={"Host": f"h{i}.example"}).status_code == 200
    assert len(app_state(app).fast_path.answers) == 10
