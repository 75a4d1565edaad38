"""Property tests: whatever records hold, every format stays well formed and readable.

Records are built with `story_from_record`, which skips validation, so the renderers'
own cleaning is what is tested: feeds must not depend on every record having passed
through `stories.validate`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds import render_atom_feed, render_json_feed, render_podcast_feed, render_rss_feed
from feeds.content import feed_audio
from serving.links import Links
from stories.model import format_datetime, story_from_record
from stories.store import StoryPage

from .feeds_support import check_atom, check_json_feed, sample_batch

pytestmark = pytest.mark.slow  # many generated examples, each a whole feed

LINKS = Links.build("https://storyfeed.example/")
TOPIC = sample_batch().topics[0]

TRICKY = [
    "]]>", "<![CDATA[", "<script>alert(1)</script>", "&amp;", "&", "<", "\"'", "--",
    "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "\x85", "\u2028",
    "\ud800", "\udfff", "\ufffe", "\uffff", "\r\n", "\t", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "مرحبا", "👩‍👩‍👧",
]

short_texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(TRICKY),
    st.lists(st.one_of(st.text(max_size=6), st.sampled_from(TRICKY)), max_size=10).map("".join),
)
texts = st.one_of(
    short_texts,
    st.integers(1_000, 3_000).map(lambda n: "Ω]]>\x00 " * n),  # very long text
)
paths = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)
urls = st.builds(
    lambda host, path, query: f"https://{host}.example/{path}" + (f"?a={query}&b=1" if query else ""),
    st.sampled_from(["media", "cdn", "news"]), paths, st.one_of(st.just(""), paths),
)
media_urls = st.one_of(urls, paths.map(lambda p: f"/media/{p}.mp3"))
zones = st.integers(-14 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
when = st.datetimes(min_value=datetime(1971, 1, 1),
                    max_value=datetime(2099, 12, 31),
                    timezones=zones).map(format_datetime)

images = st.fixed_dictionaries(
    {"url": st.one_of(urls, paths.map(lambda p: f"/media/{p}.jpg"))},
    optional={"width": st.integers(1, 5000), "height": st.integers(1, 5000),
              "caption": texts, "credit": texts, "alt": texts},
)


@st.composite
def audio_lists(draw):
    count = draw(st.integers(0, 3))
    return [
        draw(st.fixed_dictionaries(
            {"id": st.just(f"a{i}")},
            optional={
                "url": media_urls,
                "type": st.sampled_from(["audio/mpeg", "audio/x-m4a", "audio/ogg", ""]),
                "length": st.one_of(st.none(), st.integers(1, 10**10)),
                "duration": st.one_of(st.none(), st.integers(0, 10**6)),
                "embed": short_texts,
                "transcript_url": urls,
                "downloadable": st.booleans(),
            },
        ))
        for i in range(count)
    ]


@st.composite
def records(draw, index: int):
    published = draw(when)
    return {
        "id": f"s{index}",
        "url": draw(urls),
        "title": draw(texts),
        "published": published,
        "updated": draw(st.one_of(st.just(published), when)),
        "teaser": draw(texts),
        "body_html": draw(texts),
        "bylines": draw(st.lists(short_texts, max_size=40)),  # up to many bylines
        "topics": draw(st.lists(st.sampled_from(["world", "north-korean-defectors", "a-b"]),
                                max_size=3, unique=True)),
        "image": draw(st.one_of(st.none(), images)),
        "audio": draw(audio_lists()),
    }


@st.composite
def pages(draw):
    count = draw(st.integers(0, 5))
    stories = [story_from_record(draw(records(i))) for i in range(count)]
    stories.sort(key=lambda s: (s.published, s.id), reverse=True)
    return StoryPage(tuple(stories), draw(st.one_of(st.none(), paths)), None)


@st.composite
def topics(draw):
    return replace(TOPIC, title=draw(texts), description=draw(texts) + " about",
                   author=draw(texts), copyright=draw(texts), explicit=draw(st.booleans()))


PROPERTY_SETTINGS = settings(
    max_examples=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def readable_xml(body: bytes) -> feedparser.FeedParserDict:
    etree.fromstring(body)  # strictly well formed
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


@PROPERTY_SETTINGS
@given(topic=topics(), page=pages())
def test_rss_is_well_formed_for_any_records(topic, page):
    parsed = readable_xml(render_rss_feed(topic, page, LINKS))
    assert len(parsed.entries) == len(page.stories)
    for story, entry in zip(page.stories, parsed.entries, strict=True):
        enclosures = [link for link in entry.links if link.rel == "enclosure"]
        assert len(enclosures) == (1 if feed_audio(story) else 0)


@PROPERTY_SETTINGS
@given(topic=topics(), page=pages())
def test_atom_is_well_formed_and_valid_for_any_records(topic, page):
    body = render_atom_feed(topic, page, LINKS)
    parsed = readable_xml(body)
    check_atom(body)
    assert len(parsed.entries) == len(page.stories)
    for story, entry in zip(page.stories, parsed.entries, strict=True):
        enclosures = [link for link in entry.links if link.rel == "enclosure"]
        assert [int(e.length) for e in enclosures] == [a.length for a in feed_audio(story)]


@PROPERTY_SETTINGS
@given(topic=topics(), page=pages())
def test_json_feed_is_valid_for_any_records(topic, page):
    feed = check_json_feed(render_json_feed(topic, page, LINKS))
    assert [item["id"] for item in feed["items"]] == [
        item["id"] for item in feed["items"] if item["id"].startswith("urn:uuid:")]
    assert len(feed["items"]) == len(page.stories)


@PROPERTY_SETTINGS
@given(topic=topics(), page=pages())
def test_podcast_rss_is_well_formed_for_any_records(topic, page):
    parsed = readable_xml(render_podcast_feed(topic, page, LINKS))
    episodes = {LINKS.media(a.url) for s in page.stories for a in feed_audio(s)}
    assert len(parsed.entries) == len(episodes)
    for entry in parsed.entries:
        (enclosure,) = [link for link in entry.links if link.rel == "enclosure"]
        assert int(enclosure.length) > 0
