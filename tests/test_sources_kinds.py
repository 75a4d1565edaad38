"""The `feed` and `npr-cds` kinds, end to end: an NPR-shaped podcast feed and a CDS answer
served from 127.0.0.1, synced, and every mapped field read back from the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from requests_cache.backends import SQLiteCache

from sources.fetch import FetchSettings, HTTPRetriever
from sources.model import Outcome, Source
from sources.state import SourceStates
from sources.sync import Syncer
from stories.store import StoryStore

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SETTINGS = FetchSettings(connect_timeout=2, read_timeout=2, retries=0)


@pytest.fixture
def store(sqlite_url):
    store = StoryStore.from_url(sqlite_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def syncer(store, tmp_path):
    retriever = HTTPRetriever(SQLiteCache(db_path=str(tmp_path / "cache.sqlite3")), SETTINGS)
    yield Syncer(
        store, SourceStates(store.engine), retriever, environ={"NPR_CDS_TOKEN": "cds-token"}
    )
    retriever.close()


# -- feed ---------------------------------------------------------------------------------


@pytest.fixture
def feed_report(syncer, upstream):
    upstream.serve(
        "/podcast.xml",
        (FIXTURES / "npr_podcast_feed.xml").read_bytes(),
        content_type="application/rss+xml; charset=utf-8",
    )
    src = Source(
        name="npr-podcast",
        url=upstream.url("/podcast.xml"),
        kind="feed",
        topics=("north-korean-defectors",),
        allow_private=True,
    )
    return syncer.sync(src)


def test_feed_items_become_stories(feed_report, store, upstream):
    assert feed_report.outcome is Outcome.FETCHED
    assert (feed_report.added, feed_report.invalid) == (4, 0)
    assert upstream.seen_at("/podcast.xml")[0].headers["Accept"].startswith("application/atom+xml")


def test_feed_ids_come_from_npr_story_urls_else_from_the_guid(feed_report, store):
    ids = {s.id for s in store.latest(limit=10).stories}
    assert {"1169464713", "1022642030", "607375723"} <= ids
    (other,) = ids - {"1169464713", "1022642030", "607375723"}
    assert other.startswith("guid-")
    # Stable: the same guid gives the same id on every pull.
    from sources.feed import story_id

    assert story_id("https://station.example.org/episodes/42", "station-episode-42") == other


def test_feed_fields_of_a_full_npr_item(feed_report, store):
    story = store.get_story("1169464713")
    assert story.url == (
        "https://www.npr.org/2023/04/06/1169464713/"
        "north-korean-defectors-deportation-china-covid-border"
    )
    assert (
        story.title
        == "North Korean defectors may face deportation by China as COVID border controls ease"
    )
    assert story.teaser.startswith("As China reopens its border")
    assert story.published.isoformat() == "2023-04-06T09:00:00+00:00"
    # dc:creator, not the show's itunes:author "NPR".
    assert story.bylines == ("Anthony Kuhn",)
    # Categories as slugs, then the source's topics.
    assert story.topics == ("north-korea", "asia", "north-korean-defectors")
    # media:content wins over media:thumbnail and the <img> in content:encoded.
    assert story.image.url.startswith(
        "https://media.npr.org/assets/img/2023/04/06/gettyimages-876536740_wide.jpg?s=1400"
    )
    assert (story.image.width, story.image.height) == (1400, 788)
    assert story.image.credit == "Jung Yeon-Je/AFP via Getty Images"
    assert story.image.producer == "Jung Yeon-Je" and story.image.provider == "AFP via Getty Images"
    assert story.image.caption.startswith(
        "Surveillance footage of the moment a North Korean soldier defects, shown"
    )
    (audio,) = story.audio
    assert audio.url.startswith(
        "https://ondemand.npr.org/anon.npr-mp3/npr/me/2023/04/20230406_me_north_korean_defectors.mp3"
    )
    assert (audio.type, audio.length, audio.duration) == ("audio/mpeg", 3536000, 221)  # 00:03:41
    assert audio.transcript_url == "https://www.npr.org/transcripts/1169464713"
    # content:encoded is the body, cleaned: its script is gone.
    assert "(Image credit: Jung Yeon-Je/AFP via Getty Images)" in story.body_html
    assert "<script" not in story.body_html and "alert" not in story.body_html


def test_feed_falls_back_to_content_encoded_images_and_npr_credits(feed_report, store):
    story = store.get_story("1022642030")
    assert story.image.url.startswith(
        "https://media.npr.org/assets/img/2021/08/23/crash-landing_wide.jpg"
    )
    assert story.image.caption.startswith("Crash Landing on You, a series on Netflix")
    assert story.image.alt == story.image.caption
    assert story.image.credit == "Netflix"
    assert story.teaser == (
        "South Korean dramas smuggled on thumb drives have changed how North "
        "Koreans talk & the government wants the old words back."
    )
    (audio,) = story.audio
    assert audio.duration == 458
    # text/html is preferred among several podcast:transcript elements.
    assert audio.transcript_url == "https://www.npr.org/transcripts/1022642030"


def test_feed_reads_sizes_and_durations_from_npr_mp3_urls(feed_report, store):
    story = store.get_story("607375723")
    assert story.bylines == ("Scott Simon", "Elise Hu")  # two dc:creator elements
    assert story.topics == ("north-korea", "world", "north-korean-defectors")
    assert story.image.url.endswith("gettyimages-913946528_wide.jpg?s=600")  # media:thumbnail
    assert (story.image.width, story.image.height) == (600, 338)
    (audio,) = story.audio
    # length="0" is no length; the mp3 URL's size= and d= give bytes and seconds.
    assert (audio.length, audio.duration) == (4992000, 312)


def test_feed_items_outside_npr(feed_report, store):
    (story,) = [s for s in store.latest(limit=10).stories if s.id.startswith("guid-")]
    assert story.url == "https://station.example.org/episodes/42"
    assert story.image.url == "https://station.example.org/episodes/42/art.png"  # itunes:image
    (audio,) = story.audio
    assert (audio.type, audio.length, audio.duration) == ("audio/x-m4a", 123456, 62)  # 1:02
    assert audio.transcript_url == ""


def test_an_atom_feed_maps_authors_and_enclosure_links(syncer, store, upstream):
    upstream.serve(
        "/atom.xml",
        """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Station</title><id>tag:station.example.org,2024:feed</id>
<updated>2024-01-02T00:00:00Z</updated>
<entry><id>tag:station.example.org,2024:1</id><title type="html">A &lt;em&gt;big&lt;/em&gt; day</title>
<link rel="alternate" href="https://station.example.org/2024/big-day"/>
<link rel="enclosure" href="https://station.example.org/big-day.mp3" length="4000" type="audio/mpeg"/>
<published>2024-01-01T10:00:00+01:00</published><updated>2024-01-02T00:00:00Z</updated>
<author><name>Ann Reporter</name></author><category term="Local News"/>
<summary>What happened.</summary></entry></feed>""",
        content_type="application/atom+xml",
    )
    report = syncer.sync(
        Source(name="atom", url=upstream.url("/atom.xml"), kind="feed", allow_private=True)
    )
    assert report.added == 1
    (story,) = store.latest(limit=5).stories
    assert story.title == "A big day"
    assert story.bylines == ("Ann Reporter",)
    assert story.topics == ("local-news",)
    assert story.published.isoformat() == "2024-01-01T09:00:00+00:00"
    assert story.updated.isoformat() == "2024-01-02T00:00:00+00:00"
    assert story.audio[0].length == 4000


def test_an_invalid_feed_item_is_reported_and_the_others_kept(syncer, store, upstream):
    body = (
        (FIXTURES / "npr_podcast_feed.xml")
        .read_text(encoding="utf-8")
        .replace(
            "<pubDate>Tue, 24 Aug 2021 05:01:00 -0400</pubDate>",
            "<pubDate>sometime in August</pubDate>",
        )
    )
    upstream.serve("/podcast.xml", body, content_type="application/rss+xml")
    report = syncer.sync(
        Source(
            name="npr-podcast", url=upstream.url("/podcast.xml"), kind="feed", allow_private=True
        )
    )
    assert (report.added, report.invalid) == (3, 1)
    assert report.problems == (
        'npr-podcast: item 2 (id 1022642030): published: "sometime in August" is not an RFC 3339 '
        "or RFC 822 date",
    )


# -- npr-cds ------------------------------------------------------------------------------


@pytest.fixture
def cds_report(syncer, upstream):
    upstream.serve(
        "/v1/documents",
        (FIXTURES / "npr_cds_documents.json").read_bytes(),
        require_header=("Authorization", "Bearer cds-token"),
    )
    src = Source(
        name="cds",
        url=upstream.url("/v1/documents"),
        kind="npr-cds",
        topics=("north-korean-defectors",),
        token_env="NPR_CDS_TOKEN",
        allow_private=True,
    )
    return syncer.sync(src)


def test_cds_documents_become_stories(cds_report, store):
    assert cds_report.outcome is Outcome.FETCHED
    assert (cds_report.added, cds_report.invalid) == (3, 0)
    assert (
        store.get_story("nx-s1-5978614").url
        == "https://www.npr.org/2024/05/02/nx-s1-5978614/a-new-style-story-id"
    )


def test_cds_fields(cds_report, store):
    story = store.get_story("761156048")
    assert story.url.startswith("https://www.npr.org/2019/08/28/761156048/")  # the canonical page
    assert (
        story.title
        == "In South Korea, Anguish Over Deaths Of North Korean Defectors Who May Have Starved"
    )
    assert story.teaser.startswith("A mother and her son, North Korean defectors, were found")
    assert story.published.isoformat() == "2019-08-28T09:00:00+00:00"
    assert story.updated.isoformat() == "2019-08-28T15:12:00+00:00"
    assert story.bylines == ("Anthony Kuhn",)  # the reference byline would cost a request
    assert story.topics == ("north-korean-defectors",)
    image = story.image
    assert (
        image.url == "https://media.npr.org/assets/img/2019/08/28/gettyimages-1164766893_wide.jpg"
    )
    assert (image.width, image.height) == (1400, 788)
    assert image.credit == "Jung Yeon-Je/AFP/Getty Images"
    assert (image.producer, image.provider) == ("Jung Yeon-Je", "AFP/Getty Images")
    assert image.caption.startswith("A man sets up portraits of North Korean defector Han Seong-ok")
    assert image.alt == "Portraits of a woman and a child at a shrine in Seoul"
    (audio,) = story.audio
    assert audio.id == "761217553"
    assert audio.url.startswith(
        "https://ondemand.npr.org/anon.npr-mp3/npr/me/2019/08/20190828_me_defectors.mp3"
    )
    assert (audio.type, audio.length, audio.duration) == ("audio/mpeg", 3712000, 232)
    assert audio.embed == "https://www.npr.org/player/embed/761156048/761217553"
    assert audio.transcript_url == "https://www.npr.org/transcripts/761156048"
    assert audio.downloadable and audio.embeddable


def test_cds_permissions_short_teasers_and_premium_audio(cds_report, store):
    story = store.get_story("708718922")
    assert (
        story.teaser
        == "A shadowy group says it raided North Korea's embassy in Madrid and promises more."
    )
    assert story.image.credit == "Pablo Blazquez Dominguez/Getty Images"  # a provider alone
    assert story.image.url.endswith("gettyimages-1131196466.jpg")  # the enlargement
    (audio,) = story.audio  # the premium asset is left out
    assert audio.id == "710257409"
    assert audio.downloadable is False and audio.embeddable is True
    assert story.downloadable_audio == () and story.embeddable_audio == (audio,)


def test_cds_without_the_token_fails(store, tmp_path, upstream):
    upstream.serve(
        "/v1/documents",
        (FIXTURES / "npr_cds_documents.json").read_bytes(),
        require_header=("Authorization", "Bearer cds-token"),
    )
    retriever = HTTPRetriever(SQLiteCache(db_path=str(tmp_path / "c2.sqlite3")), SETTINGS)
    syncer = Syncer(
        store, SourceStates(store.engine), retriever, environ={"NPR_CDS_TOKEN": "wrong"}
    )
    try:
        report = syncer.sync(
            Source(
                name="cds",
                url=upstream.url("/v1/documents"),
                kind="npr-cds",
                token_env="NPR_CDS_TOKEN",
                allow_private=True,
            )
        )
    finally:
        retriever.close()
    assert report.outcome is Outcome.FAILED
    assert report.detail == "upstream answered HTTP 401 Unauthorized"


def test_an_invalid_cds_document_is_reported_by_source_document_and_field(syncer, store, upstream):
    data = json.loads((FIXTURES / "npr_cds_documents.json").read_text(encoding="utf-8"))
    del data["resources"][1]["publishDateTime"]
    upstream.serve("/v1/documents", json.dumps(data))
    report = syncer.sync(
        Source(
            name="cds",
            url=upstream.url("/v1/documents"),
            kind="npr-cds",
            token_env="NPR_CDS_TOKEN",
            allow_private=True,
        )
    )
    assert (report.added, report.invalid) == (2, 1)
    assert report.problems == ("cds: document 2 (id 708718922): published: is required",)


# -- relative and hostile URLs in upstream documents ------------------------------------

HOSTILE_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"
     xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel><title>Station</title><link>/</link><description>d</description>
<item><title>Relative</title><link>/2024/01/02/relative</link><guid>g-1</guid>
<pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate>
<enclosure url="/media/javascript:alert(1)//a.mp3" length="10" type="audio/mpeg"/>
<media:content url="/media/javascript:alert(2)//a.jpg" medium="image"/>
<podcast:transcript url="t/1.html" type="text/html"/></item>
<item><title>Scripted</title><link>https://station.example.org/s</link><guid>g-2</guid>
<pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate>
<media:content url="javascript:alert(3)" medium="image"/></item>
</channel></rss>"""


def test_relative_urls_in_a_feed_are_the_upstreams_never_our_media(syncer, store, upstream):
    """`/media/...` in someone else's feed is their file: left relative, it passed as one
    of ours, and `/media/javascript:...` came out of our links as `javascript:`."""
    upstream.serve("/feeds/station.xml", HOSTILE_FEED, content_type="application/rss+xml")
    report = syncer.sync(Source(name="station", url=upstream.url("/feeds/station.xml"),
                                kind="feed", allow_private=True))
    assert (report.added, report.invalid) == (1, 1)
    (problem,) = report.problems
    assert problem.startswith("station: item 2 (id guid-") and "image.url" in problem
    (story,) = store.latest(limit=5).stories
    assert story.url == upstream.url("/2024/01/02/relative")
    assert story.image.url == upstream.url("/media/javascript:alert(2)//a.jpg")
    (audio,) = story.audio
    assert audio.url == upstream.url("/media/javascript:alert(1)//a.mp3")
    assert audio.transcript_url == upstream.url("/feeds/t/1.html")


def test_relative_urls_in_a_cds_answer_are_the_upstreams(syncer, store, upstream):
    data = json.loads((FIXTURES / "npr_cds_documents.json").read_text(encoding="utf-8"))
    doc = data["resources"][0]
    image_asset = next(a for a in doc["assets"].values() if "enclosures" in a
                       and str(a["enclosures"][0].get("type", "")).startswith("image/"))
    for enclosure in image_asset["enclosures"]:
        enclosure["href"] = "/media/javascript:alert(1)//i.jpg"
    upstream.serve("/v1/documents", json.dumps({"resources": [doc]}))
    report = syncer.sync(Source(name="cds", url=upstream.url("/v1/documents"), kind="npr-cds",
                                token_env="NPR_CDS_TOKEN", allow_private=True))
    assert report.added == 1, report.problems
    (story,) = store.latest(limit=5).stories
    assert story.image.url == upstream.url("/media/javascript:alert(1)//i.jpg")
