"""What the feeds say: the sample topic read back by feedparser and podcastparser, the
Atom schema, JSON Feed 1.1, Apple's and PSP-1's required tags, and feedgen's gaps."""

from __future__ import annotations

import calendar
import io
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import feedparser
import podcastparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from feeds import (
    PROCESS_MEMOS,
    Paging,
    content,
    render_atom_feed,
    render_json_feed,
    render_podcast_feed,
    render_rss_feed,
)
from feeds.content import MEMO_TEXT_CHARS, html_attribute, html_text, media_url, xml_text
from feeds.podcast import PodcastSettingsIncomplete, podcast_guid
from serving.links import Links
from serving.state import app_state
from stories.model import Audio, Image, Story, Topic, TopicImage
from stories.store import StoryPage
from stories.validate import XML_ILLEGAL_RE, parse_story

from .conftest import story_record
from .feeds_support import (
    NS,
    SAMPLE_SLUG,
    TOPIC_FEEDS,
    check_atom,
    check_json_feed,
    newest_first,
    sample_batch,
)

LINKS = Links.build("http://storyfeed.test/")


def sample():
    batch = sample_batch()
    return batch.topics[0], newest_first(batch.stories)


def utc_seconds(value: datetime) -> int:
    return int(value.timestamp())


# -- the sample topic, read back as a reader and a podcast app would -----------------

@pytest.mark.parametrize("fmt", ["rss", "atom", "podcast"])
def test_sample_feeds_parse_cleanly_and_round_trip(sample_client, fmt):
    topic, stories = sample()
    body = sample_client.get(TOPIC_FEEDS[fmt]).data
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.title == topic.title
    assert parsed.feed.link == LINKS.topic(SAMPLE_SLUG)
    assert len(parsed.entries) == len(stories) == 7
    for story, entry in zip(stories, parsed.entries, strict=True):
        assert entry.title == story.title
        assert entry.link == story.url
        assert calendar.timegm(entry.published_parsed) == utc_seconds(story.published)
        audio = story.audio[0]
        enclosures = [link for link in entry.links if link.rel == "enclosure"]
        assert [(e.href, int(e.length), e.type) for e in enclosures] == [
            (LINKS.media(audio.url), audio.length, audio.type)
        ]
        if fmt != "podcast":  # topics are categories of stories, not of episodes
            assert [tag.term for tag in entry.tags] in (
                [topic.title],  # RSS: the category's text
                [SAMPLE_SLUG],  # Atom: the category's term (its label is the title)
            )
            assert entry.media_credit[0]["content"] == story.image.credit
            assert entry.media_content[0]["url"] == LINKS.media(story.image.url)


def test_sample_rss_items_carry_caption_credit_and_transcript(sample_client):
    topic, stories = sample()
    parsed = feedparser.parse(sample_client.get(TOPIC_FEEDS["rss"]).data)
    for story, entry in zip(stories, parsed.entries, strict=True):
        html = entry.content[0].value
        document = etree.HTML(html)
        assert document.xpath("//img/@alt") == [story.image.caption]
        assert f"(Image credit: {story.image.credit})" in html
        assert entry.summary == story.teaser
        transcripts = [a.transcript_url for a in story.audio if a.transcript_url]
        assert document.xpath("//a/@href") == transcripts


def test_json_feed_of_the_sample_round_trips(sample_client):
    _, stories = sample()
    feed = check_json_feed(sample_client.get(TOPIC_FEEDS["json"]).data)
    assert feed["feed_url"] == LINKS.absolute(TOPIC_FEEDS["json"])
    assert [item["title"] for item in feed["items"]] == [s.title for s in stories]
    for story, item in zip(stories, feed["items"], strict=True):
        assert item["url"] == story.url
        assert datetime.fromisoformat(item["date_published"]) == story.published
        audio = story.audio[0]
        # Transcripts and chapters follow: tests/test_feeds_podcast20.py checks those.
        assert [a for a in item["attachments"] if a["mime_type"].startswith("audio/")] == [{
            "url": LINKS.media(audio.url), "mime_type": audio.type,
            "size_in_bytes": audio.length, "duration_in_seconds": audio.duration,
        }]
        assert item["image"] == LINKS.media(story.image.url)
        assert item["tags"] == ["Stories About north korean defectors"]


def test_podcastparser_reads_every_sample_episode(sample_client):
    topic, stories = sample()
    url = LINKS.absolute(TOPIC_FEEDS["podcast"])
    podcast = podcastparser.parse(url, io.BytesIO(sample_client.get(TOPIC_FEEDS["podcast"]).data))
    assert podcast["cover_url"] == LINKS.media(topic.image.url)
    assert podcast["explicit"] is False
    assert podcast["itunes_owner"] == {"name": topic.owner_name, "email": topic.owner_email}
    assert podcast["itunes_categories"] == [[topic.category, topic.subcategory]]
    assert len(podcast["episodes"]) == 7
    for story, episode in zip(stories, podcast["episodes"], strict=True):
        audio = story.audio[0]
        assert episode["title"] == story.title
        assert episode["enclosures"] == [{
            "url": LINKS.media(audio.url), "file_size": audio.length, "mime_type": audio.type,
        }]
        assert episode["total_time"] == audio.duration
        assert episode["published"] == utc_seconds(story.published)


def test_atom_feeds_validate_against_the_relax_ng_schema(sample_client):
    check_atom(sample_client.get(TOPIC_FEEDS["atom"]).data)
    check_atom(sample_client.get("/atom.xml").data)
    # And a story with everything: bylines, a body, several audio files.
    story = parse_story(story_record(
        bylines=["Ann Writer", "Bo Reporter"], body_html="<p>Body <b>text</b></p>",
        audio=[story_record()["audio"][0], {"id": "2002", "url": "https://m.example.org/b.m4a",
                                            "length": 10, "duration": 3}],
    ))[0]
    check_atom(render_atom_feed(None, StoryPage((story,), "next", "prev"), LINKS, Paging(),
                                hub="http://hub.test/"))


def test_bylines_are_authors_in_every_format():
    story = parse_story(story_record(bylines=["Ann Writer", "Bo Reporter", "Cy Editor"]))[0]
    page = StoryPage((story,), None, None)
    rss = feedparser.parse(render_rss_feed(None, page, LINKS))
    atom = feedparser.parse(render_atom_feed(None, page, LINKS))
    json_feed = check_json_feed(render_json_feed(None, page, LINKS))
    names = ["Ann Writer", "Bo Reporter", "Cy Editor"]
    creators = etree.fromstring(render_rss_feed(None, page, LINKS)).xpath(
        "//item/dc:creator/text()", namespaces=NS)
    assert creators == names
    assert rss.bozo == 0 and [a.name for a in rss.entries[0].authors] == names
    assert [a.name for a in atom.entries[0].authors] == names
    assert [a["name"] for a in json_feed["items"][0]["authors"]] == names


def test_same_data_gives_the_same_bytes_dated_by_the_newest_story():
    topic, stories = sample()
    page = StoryPage(tuple(stories), None, None)
    for render in (render_rss_feed, render_atom_feed, render_json_feed, render_podcast_feed):
        assert render(topic, page, LINKS) == render(topic, page, LINKS)
    newest = max(s.updated for s in stories)
    rss = etree.fromstring(render_rss_feed(topic, page, LINKS))
    assert rss.findtext("channel/lastBuildDate") == newest.strftime("%a, %d %b %Y %H:%M:%S +0000")
    atom = etree.fromstring(render_atom_feed(topic, page, LINKS))
    assert datetime.fromisoformat(atom.findtext("atom:updated", namespaces=NS)) == newest


def test_dates_are_rfc_822_with_a_numeric_zone():
    topic, stories = sample()
    rss = etree.fromstring(render_rss_feed(topic, StoryPage(tuple(stories), None, None), LINKS))
    for text in rss.xpath("//item/pubDate/text()"):
        parsed = datetime.strptime(text, "%a, %d %b %Y %H:%M:%S %z")
        assert text.endswith("+0000") and parsed.strftime("%a") == text[:3]


def test_ids_never_change_with_the_site_or_the_story_url():
    story = parse_story(story_record())[0]
    moved = replace(story, url="https://elsewhere.example/new-slug", title="Corrected")
    one = feedparser.parse(render_atom_feed(None, StoryPage((story,), None, None), LINKS))
    two = feedparser.parse(render_atom_feed(None, StoryPage((moved,), None, None),
                                            Links.build("https://new-host.example/")))
    assert one.entries[0].id == two.entries[0].id
    assert one.entries[0].id.startswith("urn:uuid:")


# -- podcast RSS: Apple Podcasts and PSP-1 ------------------------------------------------

def _podcast_document(client) -> etree._Element:
    return etree.fromstring(client.get(TOPIC_FEEDS["podcast"]).data)


def _is_http_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


# (where, what it must be): channel tags first, then every item's.
APPLE_AND_PSP1 = [
    ("channel/title", lambda e: bool(e.text.strip())),
    ("channel/description", lambda e: 0 < len(e.text.encode()) <= 4000),
    ("channel/itunes:image", lambda e: _is_http_url(e.get("href"))
        and e.get("href").endswith((".jpg", ".png"))),
    ("channel/language", lambda e: e.text == "en-us"),
    ("channel/itunes:category", lambda e: e.get("text") == "News"
        and e.find("itunes:category", NS).get("text") == "News Commentary"),
    ("channel/itunes:explicit", lambda e: e.text in ("true", "false")),
    ("channel/itunes:author", lambda e: bool(e.text)),
    ("channel/link", lambda e: _is_http_url(e.text)),
    ("channel/itunes:owner", lambda e: e.findtext("itunes:email", namespaces=NS) == "podcasts@example.org"
        and bool(e.findtext("itunes:name", namespaces=NS))),
    ("channel/itunes:type", lambda e: e.text in ("episodic", "serial")),
    ("channel/copyright", lambda e: bool(e.text)),
    ("channel/atom:link[@rel='self']", lambda e: e.get("type") == "application/rss+xml"
        and e.get("href") == "http://storyfeed.test/topics/north-korean-defectors/podcast.xml"),
    ("channel/podcast:locked", lambda e: e.text in ("yes", "no")
        and e.get("owner") == "podcasts@example.org"),
    ("channel/podcast:guid", lambda e: uuid.UUID(e.text).version == 5),
    ("channel/item/title", lambda e: bool(e.text.strip())),
    ("channel/item/enclosure", lambda e: _is_http_url(e.get("url"))
        and e.get("length").isdigit() and int(e.get("length")) > 0
        and e.get("type") in ("audio/mpeg", "audio/x-m4a")),
    ("channel/item/guid", lambda e: e.get("isPermaLink") == "false" and bool(e.text)),
    ("channel/item/pubDate", lambda e: bool(datetime.strptime(e.text, "%a, %d %b %Y %H:%M:%S %z"))),
    ("channel/item/description", lambda e: 0 < len(e.text.encode()) <= 4000),
    ("channel/item/itunes:duration", lambda e: e.text.isdigit()),
    ("channel/item/link", lambda e: _is_http_url(e.text)),
    ("channel/item/itunes:explicit", lambda e: e.text in ("true", "false")),
    ("channel/item/itunes:episodeType", lambda e: e.text in ("full", "trailer", "bonus")),
]


@pytest.mark.parametrize("path, valid", APPLE_AND_PSP1, ids=[p for p, _ in APPLE_AND_PSP1])
def test_podcast_has_every_tag_apple_and_psp1_require(sample_client, path, valid):
    document = _podcast_document(sample_client)
    elements = document.xpath(path, namespaces=NS)
    expected = 1 if not path.startswith("channel/item/") else 7
    assert len(elements) == expected, f"{path}: {len(elements)} found"
    for element in elements:
        assert valid(element), etree.tostring(element)


def test_podcast_namespaces_are_the_exact_ones():
    topic, stories = sample()
    root = etree.fromstring(render_podcast_feed(topic, StoryPage(tuple(stories), None, None), LINKS))
    assert root.nsmap["itunes"] == "http://www.itunes.com/dtds/podcast-1.0.dtd"
    assert root.nsmap["podcast"] == "https://podcastindex.org/namespace/1.0"
    assert root.nsmap["atom"] == "http://www.w3.org/2005/Atom"


def test_podcast_guid_follows_the_podcast_namespace():
    assert podcast_guid("https://podnews.net/rss") == "9b024349-ccf0-5f69-a609-6b82873eab3c"
    assert podcast_guid("http://podnews.net/rss/") == "9b024349-ccf0-5f69-a609-6b82873eab3c"
    topic, stories = sample()
    root = etree.fromstring(render_podcast_feed(topic, StoryPage(tuple(stories), None, None), LINKS))
    assert root.findtext("channel/podcast:guid", namespaces=NS) == podcast_guid(
        "storyfeed.test/topics/north-korean-defectors/podcast.xml")


def test_transcripts_are_podcast_transcript_tags():
    topic, stories = sample()
    root = etree.fromstring(render_podcast_feed(topic, StoryPage(tuple(stories), None, None), LINKS))
    found = [(t.get("url"), t.get("type")) for t in root.xpath("//podcast:transcript", namespaces=NS)]
    expected = [(LINKS.media(t.url), t.type) for s in stories for a in s.audio for t in a.transcripts]
    expected += [(a.transcript_url, "text/html") for s in stories for a in s.audio if a.transcript_url]
    assert sorted(found) == sorted(expected) and len(found) == 2 * 7 + 4


def test_explicit_is_true_and_image_urls_keep_their_query_string():
    topic, stories = sample()
    topic = replace(topic, explicit=True,
                    image=TopicImage("https://cdn.example.org/art.jpg?v=3&s=1400", 1400, 1400))
    root = etree.fromstring(render_podcast_feed(topic, StoryPage(tuple(stories), None, None), LINKS))
    assert root.findtext("channel/itunes:explicit", namespaces=NS) == "true"
    assert root.xpath("//item/itunes:explicit/text()", namespaces=NS) == ["true"] * 7
    assert root.find("channel/itunes:image", NS).get("href") == "https://cdn.example.org/art.jpg?v=3&s=1400"


def test_podcast_has_only_stories_with_downloadable_audio():
    story = parse_story(story_record())[0]
    no_audio = replace(story, id="1002", audio=())
    not_downloadable = replace(story, id="1003", audio=(replace(story.audio[0], downloadable=False),))
    no_length = replace(story, id="1004", audio=(replace(story.audio[0], url="https://m.example.org/x.mp3",
                                                         length=None),))
    two = replace(story, id="1005", audio=(
        replace(story.audio[0], id="a", url="https://m.example.org/a.mp3"),
        replace(story.audio[0], id="b", url="https://m.example.org/b.mp3"),
    ))
    topic, _ = sample()
    page = StoryPage((story, no_audio, not_downloadable, no_length, two), None, None)
    parsed = feedparser.parse(render_podcast_feed(topic, page, LINKS))
    assert parsed.bozo == 0
    assert [e.title for e in parsed.entries] == ["A story", "A story (part 1 of 2)", "A story (part 2 of 2)"]
    assert len({e.id for e in parsed.entries}) == 3


def test_media_paths_resolve_against_media_base_url():
    topic, stories = sample()
    links = Links.build("https://storyfeed.example/", "https://cdn.example.net/m/")
    page = StoryPage(tuple(stories), None, None)
    for render in (render_rss_feed, render_atom_feed, render_podcast_feed):
        body = render(topic, page, links).decode()
        assert "https://cdn.example.net/m/north-korean-defectors/1169825816.mp3" in body
        assert '"/media/' not in body and ">/media/" not in body
    assert "https://cdn.example.net/m/north-korean-defectors/artwork.jpg" in \
        render_podcast_feed(topic, page, links).decode()


@pytest.mark.parametrize("change, missing", [
    (dict(owner_email=""), "owner_email"),
    (dict(category="", subcategory=""), "category"),
    (dict(image=None), "image"),
    (dict(image=TopicImage("/media/a.jpg", 1000, 1000)), "image is 1000x1000"),
    (dict(image=TopicImage("/media/a.jpg")), "image.width"),
    (dict(description=""), "description"),
])
def test_incomplete_podcast_settings_are_named(change, missing):
    topic, stories = sample()
    with pytest.raises(PodcastSettingsIncomplete) as raised:
        render_podcast_feed(replace(topic, **change), StoryPage(tuple(stories), None, None), LINKS)
    assert missing in str(raised.value)


def test_incomplete_podcast_is_a_plain_404_and_not_advertised(app, client):
    store = app_state(app).store
    store.write([parse_story(story_record())[0]], [Topic("world", "World", description="News.")])
    response = client.get("/topics/world/podcast.xml")
    assert response.status_code == 404
    assert response.content_type == "text/plain; charset=utf-8"
    text = response.get_data(as_text=True)
    assert "owner_email" in text and "category" in text and "image" in text
    for path in ("/topics/world", "/stories/1001", "/"):
        page = client.get(path).get_data(as_text=True)
        assert "podcast.xml" not in page, path
    assert "/topics/world/rss.xml" in client.get("/topics/world").get_data(as_text=True)


# -- whatever a record holds -------------------------------------------------------

NASTY = "bad \x00\x01\x08\x0b\x0c\x1f\ud800\udfff\ufffe ]]> <script>alert(1)</script> & done"


def test_xml_illegal_characters_never_reach_a_feed():
    story = Story(
        id="x1", url="https://e.example/x1", title=NASTY, teaser=NASTY,
        body_html=f"<p>{NASTY}</p><script>evil()</script>",
        published=datetime(2024, 1, 1, tzinfo=UTC),
        updated=datetime(2024, 1, 2, tzinfo=UTC),
        bylines=(NASTY,), topics=("world",),
        image=Image("https://e.example/i.jpg", 10, 10, caption=NASTY, credit=NASTY, alt=NASTY),
        audio=(Audio("a1", "https://e.example/a.mp3", "audio/mpeg", 10, 1,
                     transcript_url="https://e.example/t"),),
    )
    topic, _ = sample()
    topic = replace(topic, title=NASTY, description=NASTY, copyright=NASTY, author=NASTY)
    page = StoryPage((story,), None, None)
    for render in (render_rss_feed, render_atom_feed, render_podcast_feed):
        body = render(topic, page, LINKS)
        etree.fromstring(body)  # well-formed
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, (render.__name__, parsed.get("bozo_exception"))
        assert "]]>" in parsed.entries[0].title
        assert "<script>evil" not in body.decode()
    feed = check_json_feed(render_json_feed(topic, page, LINKS))
    assert "\x00" not in feed["items"][0]["title"] and "]]>" in feed["items"][0]["title"]
    assert "<script>" not in feed["items"][0]["content_html"].replace("&lt;script&gt;", "")


def test_characters_nh3_decodes_from_references_never_reach_a_feed():
    # nh3 turns `&#1;` into U+0001: a body it changes is made fit for XML again after.
    story = Story(id="x2", url="https://e.example/x2", title="T", teaser="t",
                  body_html="<p>a&#1;b&#x0b;c&#xFFFE;d</p><script>x</script>",
                  published=datetime(2024, 1, 1, tzinfo=UTC), updated=datetime(2024, 1, 2, tzinfo=UTC),
                  audio=(Audio("a1", "https://e.example/a.mp3", "audio/mpeg", 10, 1),))
    topic, _ = sample()
    page = StoryPage((story,), None, None)
    for render in (render_rss_feed, render_atom_feed, render_podcast_feed):
        parsed = feedparser.parse(etree.tostring(etree.fromstring(render(topic, page, LINKS))))
        assert parsed.bozo == 0 and "abcd" in parsed.entries[0].content[0].value, render.__name__
    content = check_json_feed(render_json_feed(topic, page, LINKS))["items"][0]["content_html"]
    assert "<p>abcd</p>" in content and "script" not in content


# Each character XML 1.0 forbids, alone in text of each width CPython stores strings in
# (ASCII, Latin-1, the BMP, beyond it): xml_text proves most text clean without the
# regex, and each of its shortcuts must still find every one of them.
FORBIDDEN = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + [
    "\ufffe", "\uffff", "\ud800", "\udbff", "\udc00", "\udfff"]


@pytest.mark.parametrize("around", ["plain text", "caf\u00e9", "\u201cquoted\u201d", "\U0001f3a7 audio"])
@pytest.mark.parametrize("bad", FORBIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_xml_text_removes_each_forbidden_character(around, bad):
    assert xml_text(f"{around}{bad}{around}") == around + around
    assert xml_text(bad) == ""


@pytest.mark.parametrize("clean", ["", "plain\ttext\r\n", "caf\u00e9 \x7f\x85", "\u2028\ufffd", "\U0001f3a7\U0010ffff"])
def test_xml_text_keeps_clean_text_whole(clean):
    assert xml_text(clean) == clean


@given(st.text(st.characters(blacklist_categories=())))  # surrogates included
def test_xml_text_removes_what_the_pattern_matches(text):
    long = text + " " * MEMO_TEXT_CHARS + text  # past the memo of short texts
    assert xml_text(text) == XML_ILLEGAL_RE.sub("", text)
    assert xml_text(long) == XML_ILLEGAL_RE.sub("", long)


TEXT_MEMOS = (content._known_xml_text, content._known_html_text, content._known_html_attribute)


def test_short_texts_are_cleaned_once_and_long_ones_every_time():
    """Titles, teasers and captions are remembered per process; a body or any other long
    text never is, so the memos stay small whatever the records hold."""
    for memo in PROCESS_MEMOS:
        memo.cache_clear()
    short = "Caf\u00e9 & <b>Bar</b>\x01 \"quoted\""
    long = "x" * MEMO_TEXT_CHARS + "\x01 & <b>\ud800"
    for _ in range(3):
        assert xml_text(long) == "x" * MEMO_TEXT_CHARS + " & <b>"
        assert html_text(long) == "x" * MEMO_TEXT_CHARS + " &amp; &lt;b&gt;"
        assert html_attribute(long + '"') == "x" * MEMO_TEXT_CHARS + " &amp; &lt;b&gt;&quot;"
    assert [memo.cache_info().currsize for memo in TEXT_MEMOS] == [0, 0, 0]
    for _ in range(3):
        assert xml_text(short) == "Caf\u00e9 & <b>Bar</b> \"quoted\""
        assert html_text(short) == "Caf\u00e9 &amp; &lt;b&gt;Bar&lt;/b&gt; \"quoted\""
        assert html_attribute(short) == "Caf\u00e9 &amp; &lt;b&gt;Bar&lt;/b&gt; &quot;quoted&quot;"
    assert [memo.cache_info().hits >= 2 for memo in TEXT_MEMOS] == [True, True, True]


def test_html_text_cuts_remembered_text_to_its_byte_limit():
    teaser = "Caf\u00e9 & bar " * 20  # 220 characters, 320 bytes of HTML: remembered
    assert len(teaser) <= MEMO_TEXT_CHARS
    for _ in range(2):
        cut = html_text(teaser, 100)
        assert cut.endswith("...") and len(cut.encode("utf-8")) <= 100 and "&amp;" in cut
        assert html_text(teaser) == teaser.replace("&", "&amp;")


def test_links_built_alike_are_one_key_of_the_url_memos():
    built = Links.build("https://news.example/")
    again = Links.build("https://news.example")
    moved = replace(built, media_base_url="https://cdn.example/")
    assert built == again and hash(built) == hash(again) and {built: 1}[again] == 1
    assert hash(moved) == hash(Links("https://news.example/", "https://cdn.example/"))
    assert media_url(moved, "/media/a.mp3") == "https://cdn.example/a.mp3"
    assert media_url(again, "/media/a.mp3") == "https://news.example/media/a.mp3"


def test_an_empty_feed_is_still_dated_by_its_data():
    topic, _ = sample()
    empty = StoryPage((), None, None)
    first = render_rss_feed(topic, empty, LINKS)
    assert etree.fromstring(first).findtext("channel/lastBuildDate") == "Thu, 01 Jan 1970 00:00:00 +0000"
    check_atom(render_atom_feed(topic, empty, LINKS))
    assert check_json_feed(render_json_feed(topic, empty, LINKS))["items"] == []


def test_rss_keeps_the_html_channel_link_and_every_atom_link():
    topic, stories = sample()
    page = StoryPage(tuple(stories[:2]), "older-cursor", "newer-cursor")
    root = etree.fromstring(render_rss_feed(topic, page, LINKS, Paging(limit=2, cursor="here"),
                                            hub="https://hub.example/"))
    assert root.findtext("channel/link") == LINKS.topic(SAMPLE_SLUG)
    links = {(a.get("rel"), a.get("href")) for a in root.findall("channel/atom:link", NS)}
    base = LINKS.absolute(TOPIC_FEEDS["rss"])
    pages = LINKS.absolute(f"topics/{SAMPLE_SLUG}/pages")
    assert links == {
        ("self", f"{pages}/here/rss.xml?limit=2"),
        ("hub", "https://hub.example/"),
        ("first", f"{base}?limit=2"),
        ("next", f"{pages}/older-cursor/rss.xml?limit=2"),
        ("previous", f"{pages}/newer-cursor/rss.xml?limit=2"),
    }


def test_atom_entry_links_keep_rel_type_and_length():
    story = parse_story(story_record())[0]
    root = etree.fromstring(render_atom_feed(None, StoryPage((story,), None, None), LINKS))
    links = [dict(link.attrib) for link in root.findall("atom:entry/atom:link", NS)]
    assert links == [
        {"href": story.url, "rel": "alternate", "type": "text/html"},
        {"href": "https://media.example.org/2001.mp3", "rel": "enclosure",
         "type": "audio/mpeg", "length": "123456"},
    ]


def test_json_feed_pages_with_next_url_and_announces_its_hub():
    story = parse_story(story_record())[0]
    feed = check_json_feed(render_json_feed(
        None, StoryPage((story,), "older", None), LINKS, Paging(limit=1), hub="https://hub.example/"))
    assert feed["next_url"] == "http://storyfeed.test/pages/older/feed.json?limit=1"
    assert feed["hubs"] == [{"type": "WebSub", "url": "https://hub.example/"}]
    # 2024-01-02T10:00:00-05:00 in the record
    assert feed["items"][0]["date_published"] == "2024-01-02T15:00:00Z"
