"""What anonymous clients can add to the render cache: a bounded number of entries, however
they vary cursors, oEmbed URL spellings, sizes, page sizes or Host headers.

Every answer is still right; only what is kept is bounded (keys name stories and
players, real cursor positions, a fixed set of sizes, and hosts the operator named).
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid

import pytest
import redis

from serving.state import app_state
from stories.model import Topic
from stories.validate import parse_story

from .conftest import make_app, story_record

# Warm answers come from the WSGI fast path (serving/fastpath.py) or from Flask: alike.
pytestmark = pytest.mark.usefixtures("both_paths")

TOPIC = "north-korean-defectors"
STORY = "1169464713"
AUDIO = "1169825816"
STORY_PAGE = f"http://storyfeed.test/stories/{STORY}"


@pytest.fixture(params=["memory", "redis"])
def cache_config(request):
    """Settings for each render cache, and a function counting its render entries."""
    if request.param == "memory":
        yield {}, lambda app: len(app_state(app).render_cache._entries)
        return
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    prefix = f"test-keys:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(url)
    yield ({"REDIS_URL": url, "REDIS_PREFIX": prefix},
           lambda app: len(list(client.scan_iter(f"{prefix}render:*", count=1000))))
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def serve_sample(sqlite_url, **config):
    app = make_app(sqlite_url, **config)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    return app


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


def spellings(cursor: str) -> list[str]:
    """Other ways to write the same cursor: padding, JSON spacing."""
    padded = cursor + "=" * (-len(cursor) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded))
    return [padded, b64(json.dumps(value, separators=(",", ":"))), b64(json.dumps(value, indent=1)),
            b64(" " + json.dumps(value) + " "), b64(json.dumps(value, separators=(" ,", " : ")))]


def varied_requests(client) -> list[tuple[str, dict]]:
    """150 requests as strangers send them: each a new spelling or value."""
    rss = client.get(f"/topics/{TOPIC}/rss.xml?limit=3").get_data(as_text=True)
    (next_cursor,) = re.findall(r"/pages/([^/]+)/rss\.xml", rss)[:1] or [None]
    page = client.get(f"/api/topics/{TOPIC}/stories?limit=50").get_json()
    stories = page["stories"]
    real = next_cursor or page["next_cursor"]
    out = []
    for i in range(30):  # made-up positions: well formed, but at no story
        made_up = b64(json.dumps(["older", f"2023-06-{i % 28 + 1:02d}T12:00:00", f"no-story-{i}"]))
        out.append((f"/topics/{TOPIC}/pages/{made_up}/rss.xml", {}))
    for i, story in enumerate(stories[:3]):  # real stories, at a position they do not have
        shifted = b64(json.dumps(["older", f"2001-01-0{i + 1}T00:00:00", story["id"]]))
        out.append((f"/pages/{shifted}/atom.xml", {}))
    for spelled in spellings(real) * 2 if real else []:
        out.append((f"/topics/{TOPIC}/pages/{spelled}/rss.xml", {}))
    for i in range(30):  # oEmbed URL spellings of one story and one player
        url = [f"{STORY_PAGE}?utm={i}", f"https://storyfeed.test/stories/{STORY}?n={i}",
               f"http://storyfeed.test/player/{STORY}/{AUDIO}?x={i}"][i % 3]
        out.append(("/oembed", {"url": url}))
    for i in range(1, 31):  # sizes
        out.append(("/oembed", {"url": STORY_PAGE, "maxwidth": str(200 + i), "maxheight": str(60 + i)}))
    for i in range(1, 21):  # page sizes
        out.append((f"/rss.xml?limit={i}", {}))
    out += [(f"/player/{STORY}/{AUDIO}", {"theme": t}) for t in ("dark", "light", "x") * 5]
    out += [("/oembed", {"url": STORY_PAGE, "maxwidth": "600"}), ("/oembed", {"url": STORY_PAGE})]
    for i in range(150 - len(out)):  # Host headers (SITE_URL is set: they change nothing)
        out.append(("/feeds.opml", {"__host": f"h{i}.example"}))
    return out


def send(client, url: str, params: dict):
    host = params.pop("__host", None)
    headers = {"Host": host} if host else {}
    return client.get(url, query_string=params or None, headers=headers)


WARM = ["/rss.xml", f"/topics/{TOPIC}/rss.xml", f"/topics/{TOPIC}/rss.xml?limit=3", "/feeds.opml",
        f"/oembed?url={STORY_PAGE}", f"/player/{STORY}/{AUDIO}"]


def test_varied_anonymous_requests_add_a_bounded_number_of_entries(sqlite_url, cache_config):
    config, count = cache_config
    app = serve_sample(sqlite_url, **config)
    client = app.test_client()
    for url in WARM:
        assert client.get(url).status_code == 200, url
    warm = count(app)
    requests = varied_requests(client)
    assert len(requests) == 150
    for url, params in requests:
        response = send(client, url, dict(params))
        assert response.status_code == 200, (url, params, response.status_code)
    # Kept: the real second page (one entry however spelled), two player themes, one size.
    assert count(app) - warm <= 5, count(app) - warm


def test_answers_not_kept_are_still_right(sqlite_url, cache_config):
    config, _count = cache_config
    app = serve_sample(sqlite_url, **config)
    client = app.test_client()
    rss = client.get(f"/topics/{TOPIC}/rss.xml?limit=3").get_data(as_text=True)
    (cursor,) = re.findall(r"/pages/([^/?]+)/rss\.xml", rss)[:1]
    pages = {client.get(f"/topics/{TOPIC}/pages/{s}/rss.xml?limit=3").data for s in spellings(cursor)}
    assert len(pages) == 1  # every spelling: the same page, linking itself the one way
    assert f"/pages/{cursor}/rss.xml" in pages.pop().decode()
    sized = client.get("/oembed", query_string={"url": STORY_PAGE, "maxwidth": "333"}).get_json()
    assert sized["width"] == 333


@pytest.mark.parametrize("trusted", [None, "storyfeed.test"])
def test_without_site_url_no_entry_is_kept_for_a_host_nobody_named(sqlite_url, cache_config, trusted):
    config, count = cache_config
    app = serve_sample(sqlite_url, SITE_URL=None, TRUSTED_HOSTS=trusted, **config)
    client = app.test_client()
    for i in range(50):
        for url in ("/rss.xml", "/feeds.opml", f"/oembed?url=http://h{i}.example/stories/{STORY}"):
            response = client.get(url, headers={"Host": f"h{i}.example"})
            assert response.status_code == (400 if trusted else 200)
            if not trusted:
                assert f"http://h{i}.example/".encode() in response.data
    assert count(app) == 0
    named = client.get("/rss.xml", headers={"Host": "storyfeed.test"})
    assert named.status_code == 200
    assert count(app) == (1 if trusted else 0)


@pytest.mark.parametrize("feed", ["rss.xml", "atom.xml", "feed.json"])
def test_retitling_another_topic_changes_this_topics_cached_feed(sqlite_url, cache_config, feed):
    """A feed names each story's topics by title, whichever topic the feed is about: its
    cache key must change when any of those topics is retitled, not only its own."""
    config, _count = cache_config
    app = make_app(sqlite_url, **config)
    store = app_state(app).store
    story, _ = parse_story(story_record(id="shared", topics=["alpha", "bravo"]))
    store.write(stories=[story], topics=[Topic(slug="alpha", title="Alpha"),
                                         Topic(slug="bravo", title="Bravo before")])
    client = app.test_client()
    first = client.get(f"/topics/alpha/{feed}")
    assert b"Bravo before" in first.data
    assert client.get(f"/topics/alpha/{feed}").data == first.data  # kept, and served warm
    store.write(topics=[Topic(slug="bravo", title="Bravo after")])
    after = client.get(f"/topics/alpha/{feed}")
    assert b"Bravo after" in after.data and b"Bravo before" not in after.data
    assert after.headers["ETag"] != first.headers["ETag"]
    store.engine.dispose()
