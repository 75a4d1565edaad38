"""The feeds under attack: hostile cursors (in the path and the query), limits, slugs and
conditional headers, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from .payloads import HOSTILE_CURSORS, HOSTILE_SEGMENTS, SLUG, refused_status

TOPIC_FEEDS = ["rss.xml", "atom.xml", "feed.json", "podcast.xml"]
SITE_FEEDS = ["rss.xml", "atom.xml", "feed.json"]
FEED_PATHS = [f"/topics/{SLUG}/{f}" for f in TOPIC_FEEDS] + [f"/{f}" for f in SITE_FEEDS]
# The cursors that once crashed a feed, and a few that never did.
FEED_CURSORS = [c for c in HOSTILE_CURSORS if c[0] in (
    "not-base64", "json-object", "wrong-direction", "nested-list-5000", "nested-object-5000",
    "lone-surrogate-id", "lone-surrogate-raw", "nul-in-id", "very-long")]


def paged(path: str, cursor: str) -> str:
    head, _, filename = path.rpartition("/")
    return f"{head}/pages/{cursor}/{filename}"


@pytest.mark.parametrize("name, value", FEED_CURSORS, ids=[c[0] for c in FEED_CURSORS])
@pytest.mark.parametrize("path", FEED_PATHS)
def test_a_cursor_no_feed_handed_out_is_400(backend_client, path, name, value):
    response = backend_client.get(paged(path, value))
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["0", "-1", "501", "abc", "1e2", "9" * 50])
@pytest.mark.parametrize("path", FEED_PATHS)
def test_a_bad_limit_is_400(client, path, value):
    assert client.get(path, query_string={"limit": value}).status_code == 400


@pytest.mark.parametrize("name, segment", HOSTILE_SEGMENTS, ids=[s[0] for s in HOSTILE_SEGMENTS])
@pytest.mark.parametrize("feed", TOPIC_FEEDS)
def test_a_feed_of_a_hostile_slug_is_404(backend_client, feed, name, segment):
    assert backend_client.get(f"/topics/{segment}/{feed}").status_code == refused_status(segment)


def test_a_podcast_of_a_topic_without_settings_is_a_plain_404(sqlite_app, client):
    from ..conftest import story_record
    from .payloads import AUTH

    assert client.post("/api/stories", json=story_record(id="plain", topics=["plain-topic"]),
                       headers=AUTH).status_code == 200
    response = client.get("/topics/plain-topic/podcast.xml")
    assert response.status_code == 404 and response.mimetype == "text/plain"


# If-Modified-Since values no client should send. A date that cannot be a last
# modification (unparseable, out of range, in the future) is ignored: 200 as if absent.
ABSURD_DATES = [
    "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
    "Mon, 01 Jan 9999999999 00:00:00 GMT",
    "Mon, 01 Jan 2024 99999999999:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Fri, 31 Dec 9999 23:59:59 -0100",
    "Mon, 01 Jan 0001 00:00:00 +0100",
    "not a date",
    "",
]


@pytest.mark.parametrize("value", ABSURD_DATES, ids=repr)
@pytest.mark.parametrize("path", [f"/topics/{SLUG}/rss.xml", f"/topics/{SLUG}/podcast.xml",
                                  "/feed.json", "/feeds.opml"])
def test_an_absurd_if_modified_since_is_ignored(client, path, value):
    response = client.get(path, headers={"If-Modified-Since": value})
    assert response.status_code == 200


@pytest.mark.parametrize("headers, status", [
    ({"If-None-Match": "*"}, 304),  # "*" matches whatever is there
    ({"If-None-Match": ", ".join(["*"] * 2000)}, 200),  # not a valid list: ignored
    ({"If-None-Match": '"' + "x" * 10_000 + '"'}, 200),
    ({"If-None-Match": "W/"}, 200),
    ({"If-None-Match": "\x00"}, 200),
    ({"Accept-Encoding": "gzip;q=abc"}, 200),
    ({"Accept-Encoding": "*;q=-1, identity;q=0"}, 200),
    ({"Accept-Encoding": ", ".join(["gzip"] * 2000)}, 200),
], ids=["inm-star", "inm-stars", "inm-long", "inm-weak-empty", "inm-nul", "ae-bad-q", "ae-refuse-all",
        "ae-long"])
def test_odd_request_headers_get_the_feed(client, headers, status):
    assert client.get(f"/topics/{SLUG}/rss.xml", headers=headers).status_code == status


def test_anonymous_cursors_cannot_grow_the_render_cache(redis_app):
    """Cursors of the right shape that name no story this feed shows: each must not
    become a render cache entry of its own."""
    from .payloads import cursor

    client = redis_app.test_client()
    before = redis_app.extensions["hostile.render_keys"]()
    for i in range(150):
        forged = cursor(f'["older", "2020-01-{1 + i % 28:02d}T00:00:{i % 60:02d}", "nope-{i}"]')
        assert client.get(f"/topics/{SLUG}/pages/{forged}/rss.xml").status_code in (200, 400)
    added = redis_app.extensions["hostile.render_keys"]() - before
    assert added <= 20, f"150 requests added {added} render cache keys"
