"""The feeds over HTTP: headers, conditional GET, gzip, errors, invalidation, paging, OPML
and what pages show."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import feedparser
import pytest
from lxml import etree

from serving.state import app_state
from stories.model import Audio, Story, Topic, TopicImage
from stories.store import StoryStore
from stories.validate import parse_story

from .conftest import ROOT, make_app, story_record
from .feeds_support import NS, SAMPLE_SLUG, SITE_FEEDS, TOPIC_FEEDS, check_json_feed

# Warm answers come from the WSGI fast path (serving/fastpath.py) or from Flask: alike.
both_paths = pytest.mark.usefixtures("both_paths")

CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json",
    "podcast": "application/rss+xml; charset=utf-8",
}
ALL_FEEDS = [(fmt, path) for fmt, path in TOPIC_FEEDS.items()] + [
    (fmt, path) for fmt, path in SITE_FEEDS.items()]


def json_error(client, path):
    response = client.get(path, headers={"Accept": "application/json"})
    return response.status_code, response.get_json()["message"]


# -- headers --------------------------------------------------------------------------

@both_paths
@pytest.mark.parametrize("fmt, path", ALL_FEEDS)
def test_feeds_answer_like_a_cdn(sample_client, fmt, path):
    response = sample_client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]
    assert response.headers["ETag"].startswith('"') and len(response.headers["ETag"]) > 10
    # When the store last changed (the sample was loaded just now), not a story's date.
    loaded = parsedate_to_datetime(response.headers["Last-Modified"])
    assert timedelta(0) <= datetime.now(UTC) - loaded < timedelta(minutes=5)
    assert response.headers["Cache-Control"] in ("public, max-age=300", "max-age=300, public")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Accept-Encoding" in response.headers["Vary"]

    head = sample_client.head(path)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == response.headers["ETag"]


@both_paths
def test_opml_lists_every_topic_feed(sample_app, sample_client):
    store = app_state(sample_app).store
    store.write([Story("w1", "https://e.example/w1", "W", datetime(2024, 1, 1, tzinfo=UTC),
                       datetime(2024, 1, 1, tzinfo=UTC), topics=("world",))])
    response = sample_client.get("/feeds.opml")
    assert response.headers["Content-Type"] == "text/x-opml; charset=utf-8"
    assert response.headers["ETag"]
    root = etree.fromstring(response.data)
    assert root.get("version") == "2.0"
    outlines = root.findall("body/outline")
    assert {o.get("xmlUrl") for o in outlines} == {
        f"http://storyfeed.test/topics/{SAMPLE_SLUG}/rss.xml", "http://storyfeed.test/topics/world/rss.xml"}
    for outline in outlines:
        assert outline.get("type") == "rss" and outline.get("text")
        path = outline.get("xmlUrl").removeprefix("http://storyfeed.test")
        assert feedparser.parse(sample_client.get(path).data).bozo == 0


@both_paths
def test_feed_max_age_comes_from_the_setting(sqlite_url):
    app = make_app(sqlite_url, FEED_MAX_AGE="60")
    response = app.test_client().get("/rss.xml")
    assert "max-age=60" in response.headers["Cache-Control"]
    app_state(app).store.engine.dispose()


# -- conditional GET and gzip ----------------------------------------------------------

@both_paths
def test_matching_etag_gets_304_and_no_body(sample_client):
    first = sample_client.get(TOPIC_FEEDS["podcast"])
    again = sample_client.get(TOPIC_FEEDS["podcast"], headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert "max-age=300" in again.headers["Cache-Control"]
    other = sample_client.get(TOPIC_FEEDS["podcast"], headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


@both_paths
def test_last_modified_gets_304(sample_client):
    first = sample_client.get(TOPIC_FEEDS["rss"])
    since = first.headers["Last-Modified"]
    assert sample_client.get(TOPIC_FEEDS["rss"], headers={"If-Modified-Since": since}).status_code == 304
    older = "Wed, 05 Apr 2023 09:00:00 GMT"
    assert sample_client.get(TOPIC_FEEDS["rss"], headers={"If-Modified-Since": older}).status_code == 200


@both_paths
def test_an_import_changes_the_etag(sample_app, sample_client, tmp_path):
    before = {path: sample_client.get(path).headers["ETag"] for _, path in ALL_FEEDS}
    record = story_record(id="2000", topics=[SAMPLE_SLUG],
                          published="2024-05-01T10:00:00Z", title="A new story")
    path = tmp_path / "new.json"
    path.write_text(json.dumps([record]))
    imported = datetime.now(UTC).replace(microsecond=0)
    result = sample_app.test_cli_runner().invoke(args=["stories", "import", str(path)])
    assert result.exit_code == 0, result.output
    for _, feed in ALL_FEEDS:
        response = sample_client.get(feed, headers={"If-None-Match": before[feed]})
        assert response.status_code == 200, feed
        assert response.headers["ETag"] != before[feed]
        assert b"A new story" in response.data
        assert parsedate_to_datetime(response.headers["Last-Modified"]) >= imported


@both_paths
def test_gzip_has_its_own_etag_and_decompresses_to_the_same_feed(sample_client):
    plain = sample_client.get(TOPIC_FEEDS["atom"])
    zipped = sample_client.get(TOPIC_FEEDS["atom"], headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert len(zipped.data) < len(plain.data)
    again = sample_client.get(TOPIC_FEEDS["atom"], headers={
        "Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304
    # The identity ETag does not validate the gzip body, nor the other way round.
    crossed = sample_client.get(TOPIC_FEEDS["atom"], headers={"If-None-Match": zipped.headers["ETag"]})
    assert crossed.status_code == 200 and crossed.data == plain.data


@both_paths
@pytest.mark.slow
def test_a_write_by_another_process_reaches_the_feeds(sample_app, sample_client, tmp_path):
    """The render cache is per process; its keys carry the store's version, read at most
    every `interval` seconds, so a CLI import in another process shows within that."""
    warm = sample_client.get(TOPIC_FEEDS["rss"])
    warmed_at = time.monotonic()
    assert sample_client.get(TOPIC_FEEDS["rss"]).headers["ETag"] == warm.headers["ETag"]
    path = tmp_path / "other.json"
    path.write_text(json.dumps([story_record(id="3000", topics=[SAMPLE_SLUG],
                                             published="2024-06-01T10:00:00Z",
                                             title="From another process")]))
    env = dict(os.environ, DATABASE_URL=sample_app.config["DATABASE_URL"])
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "stories", "import", str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    interval = sample_app.config["VERSION_MEMO_SECONDS"]
    time.sleep(max(0.0, interval - (time.monotonic() - warmed_at)))
    fresh = sample_client.get(TOPIC_FEEDS["rss"])
    assert fresh.headers["ETag"] != warm.headers["ETag"]
    assert b"From another process" in fresh.data


@both_paths
def test_the_store_is_read_at_most_once_per_interval(sample_app, sample_client, monkeypatch):
    sample_client.get("/feeds.opml")  # the first versioned request makes the memo
    versions = app_state(sample_app).versions
    store = app_state(sample_app).store
    reads = []
    original = store.version
    monkeypatch.setattr(store, "version", lambda topic=None: reads.append(topic) or original(topic))
    monkeypatch.setattr(versions, "ttl", 60.0)  # the whole loop falls in one interval
    for _ in range(20):
        assert sample_client.get(TOPIC_FEEDS["rss"], headers={"If-None-Match": '"x"'}).status_code == 200
    # Each version at most once: the topic's, and the store's (which topics moved,
    # web/moves.py) when a request reaches Flask rather than the fast path.
    assert SAMPLE_SLUG in reads and set(reads) <= {SAMPLE_SLUG, None}
    assert len(reads) == len(set(reads))
    reads.clear()
    # A write through another store object, as another process would make it, is seen
    # once the interval has passed.
    other = StoryStore.from_url(sample_app.config["DATABASE_URL"])
    other.write([parse_story(story_record(id="4000", topics=[SAMPLE_SLUG], title="Seen soon"))[0]])
    other.engine.dispose()
    monkeypatch.setattr(versions, "ttl", 0.05)
    time.sleep(0.05)
    assert b"Seen soon" in sample_client.get(TOPIC_FEEDS["rss"]).data
    # Once more each, once the interval has passed.
    assert SAMPLE_SLUG in reads and len(reads) == len(set(reads))


# -- errors -----------------------------------------------------------------------------

@both_paths
@pytest.mark.parametrize("query, words", [
    ("?limit=abc", ["limit", "1 to 100"]),
    ("?limit=0", ["limit", "1 to 100"]),
    # Larger pages cost past the 50 ms a request may take (serving/params.py); the podcast
    # feed's own 1,000-episode page is its default, rendered once per change, not a ?limit=.
    ("?limit=101", ["limit", "1 to 100"]),
    ("?limit=500", ["limit", "1 to 100"]),
    ("?limit=1000", ["limit", "1 to 100"]),
    ("pages/not-ours/", ["cursor", "not one this service made"]),
])
@pytest.mark.parametrize("path", [TOPIC_FEEDS["rss"], TOPIC_FEEDS["podcast"], SITE_FEEDS["json"]])
def test_bad_limit_or_cursor_is_a_400_that_says_why(sample_client, path, query, words):
    if query.startswith("pages/"):
        folder, _, name = path.rpartition("/")
        url = f"{folder}/{query}{name}"
    else:
        url = path + query
    status, message = json_error(sample_client, url)
    assert status == 400
    for word in words:
        assert word in message


@both_paths
@pytest.mark.parametrize("name", ["rss.xml", "atom.xml", "feed.json", "podcast.xml"])
def test_unknown_topic_is_a_404(sample_client, name):
    status, message = json_error(sample_client, f"/topics/no-such-topic/{name}")
    assert status == 404 and "no-such-topic" in message
    assert sample_client.head(f"/topics/no-such-topic/{name}").status_code == 404


# -- paging -----------------------------------------------------------------------------

BASE = datetime(2020, 1, 1, tzinfo=UTC)


def many_stories(count: int, topic: str = "big", audio_every: int = 1) -> list[Story]:
    # Three stories share each publication time: ties at page boundaries are where
    # keyset paging goes wrong.
    stories = []
    for i in range(count):
        when = BASE + timedelta(minutes=i // 3)
        audio = ()
        if i % audio_every == 0:
            audio = (Audio(f"a{i}", f"https://media.example.org/{i}.mp3", "audio/mpeg", 1000 + i, 60),)
        stories.append(Story(f"s{i:05d}", f"https://news.example/s{i:05d}", f"Story {i}", when, when,
                             topics=(topic,), audio=audio))
    return stories


def expected_urls(stories):
    return [s.url for s in sorted(stories, key=lambda s: (s.published, s.id), reverse=True)]


def page_items(fmt: str, body: bytes) -> tuple[list[str], str | None, str | None]:
    """(item links, next URL, previous URL) of one feed page."""
    if fmt == "json":
        feed = check_json_feed(body)
        return [i["url"] for i in feed["items"]], feed.get("next_url"), None
    root = etree.fromstring(body)
    if fmt == "atom":
        items = root.xpath("atom:entry/atom:link[@rel='alternate']/@href", namespaces=NS)
        rel = lambda r: root.xpath(f"atom:link[@rel='{r}']/@href", namespaces=NS)  # noqa: E731
    else:
        items = root.xpath("channel/item/link/text()")
        rel = lambda r: root.xpath(f"channel/atom:link[@rel='{r}']/@href", namespaces=NS)  # noqa: E731
    nxt, prev = rel("next"), rel("previous")
    return items, (nxt[0] if nxt else None), (prev[0] if prev else None)


def walk(client, fmt: str, url: str) -> tuple[list[str], list[tuple[str, str | None]]]:
    seen, pages = [], []
    while url:
        response = client.get(url.removeprefix("http://storyfeed.test"))
        assert response.status_code == 200, response.data[:300]
        items, url, previous = page_items(fmt, response.data)
        seen += items
        pages.append((items, previous))
    return seen, pages


@pytest.fixture
def big_app(database_url):
    app = make_app(database_url)
    topic = Topic("big", "Big", description="Many stories.", owner_email="o@example.org",
                  category="News", image=TopicImage("/media/big.jpg", 1400, 1400))
    app_state(app).store.write(many_stories(1234), [topic])
    yield app
    app_state(app).store.engine.dispose()


def test_walking_next_visits_every_story_once_in_order_in_every_format(big_app):
    client = big_app.test_client()
    expected = expected_urls(many_stories(1234))
    for fmt, name in [("rss", "rss.xml"), ("atom", "atom.xml"), ("json", "feed.json"),
                      ("podcast", "podcast.xml")]:
        seen, pages = walk(client, fmt, f"/topics/big/{name}")
        assert seen == expected, fmt
        # The podcast feed is whole up to 1,000 episodes, then paged like the others.
        size = 1000 if fmt == "podcast" else 50
        assert len(pages) == -(-1234 // size) and all(len(items) == size for items, _ in pages[:-1])
        if fmt not in ("json", "podcast"):  # JSON Feed has no standard "previous"; 2 pages
            items_two, previous_of_three = pages[1][0], pages[2][1]
            back, _, _ = page_items(fmt, client.get(previous_of_three.removeprefix("http://storyfeed.test")).data)
            assert back == items_two, fmt
            assert pages[0][1] is None


def test_the_site_feeds_page_over_every_topic(big_app):
    client = big_app.test_client()
    seen, pages = walk(client, "rss", "/rss.xml?limit=100")
    assert seen == expected_urls(many_stories(1234))
    assert [len(items) for items, _ in pages] == [100] * 12 + [34]


def test_podcast_pages_hold_full_pages_of_episodes(app, client):
    stories = many_stories(30, topic="mixed", audio_every=3)
    app_state(app).store.write(stories, [Topic(
        "mixed", "Mixed", description="Some with audio.", owner_email="o@example.org",
        category="News", image=TopicImage("/media/art.png", 3000, 3000))])
    seen, pages = walk(client, "podcast", "/topics/mixed/podcast.xml?limit=4")
    assert seen == expected_urls([s for s in stories if s.audio])
    assert [len(items) for items, _ in pages] == [4, 4, 2]
    back, _, _ = page_items("podcast", client.get(pages[2][1].removeprefix("http://storyfeed.test")).data)
    assert back == pages[1][0]


# -- pages ------------------------------------------------------------------------------

def alternates(html: str) -> list[tuple[str, str, str]]:
    """The feed links in <head> (oEmbed discovery links are alternates too, of another kind)."""
    document = etree.HTML(html)
    return [(link.get("type"), link.get("title"), link.get("href"))
            for link in document.xpath("//head/link[@rel='alternate']")
            if "oembed" not in link.get("type", "")]


def test_pages_link_their_feeds_in_head(sample_client):
    topic_page = alternates(sample_client.get(f"/topics/{SAMPLE_SLUG}").get_data(as_text=True))
    base = f"http://storyfeed.test/topics/{SAMPLE_SLUG}"
    assert [(t, h) for t, _, h in topic_page] == [
        ("application/rss+xml", f"{base}/rss.xml"),
        ("application/atom+xml", f"{base}/atom.xml"),
        ("application/feed+json", f"{base}/feed.json"),
        ("application/rss+xml", f"{base}/podcast.xml"),
    ]
    assert "podcast" in topic_page[3][1]
    story_page = alternates(sample_client.get("/stories/1169464713").get_data(as_text=True))
    assert story_page == topic_page
    index = alternates(sample_client.get("/").get_data(as_text=True))
    assert [h for _, _, h in index] == [
        "http://storyfeed.test/rss.xml", "http://storyfeed.test/atom.xml", "http://storyfeed.test/feed.json"]


@pytest.mark.parametrize("path", ["/", f"/topics/{SAMPLE_SLUG}"])
def test_index_and_topic_pages_offer_subscribe_links(sample_client, path):
    document = etree.HTML(sample_client.get(path).get_data(as_text=True))
    base = f"http://storyfeed.test/topics/{SAMPLE_SLUG}"
    copies = document.xpath("//details[@class='subscribe']//button[@class='copy']/@data-copy")
    assert copies == [f"{base}/rss.xml", f"{base}/atom.xml", f"{base}/feed.json", f"{base}/podcast.xml"]
    apps = document.xpath("//p[@class='podcast-apps']/a/@href")
    assert "podcast://storyfeed.test/topics/north-korean-defectors/podcast.xml" in apps
    assert any(href.startswith("overcast://x-callback-url/add?url=http%3A%2F%2Fstoryfeed.test") for href in apps)
    assert any(href.startswith("https://antennapod.org/deeplink/subscribe?url=") for href in apps)
    assert document.xpath("//p[@class='opml']/a/@href") == ["http://storyfeed.test/feeds.opml"]
