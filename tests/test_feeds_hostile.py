"""Feeds against hostile records, as readers see them.

Readers treat RSS `<description>` (item and channel, podcasts included), `content:encoded`,
Atom `type="html"` and JSON Feed `content_html` as HTML: plain text going there must be
HTML-escaped once more than XML needs. Every URL a feed emits must be http(s), whatever
a record holds (records here skip validation, as a record written by an older release
or straight into the database would).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import feedparser
import lxml.html
import podcastparser
import pytest
from lxml import etree

from feeds import (
    render_atom_feed,
    render_json_feed,
    render_opml,
    render_podcast_feed,
    render_rss_feed,
)
from serving.links import Links
from serving.state import app_state
from stories.model import Audio, Image, Story, Topic, TopicImage
from stories.store import StoryPage

from .feeds_support import NS, check_json_feed, newest_first, sample_batch

LINKS = Links.build("http://storyfeed.test/")
WHEN = datetime(2024, 1, 2, 15, tzinfo=UTC)

HOSTILE_TEXT = '"><script>alert(1)</script> <b>bold</b> & <img src=x onerror=alert(2)> &amp; done'
CAPTION = "The caption of the photo, which is not the story."


def podcast_topic(**changes) -> Topic:
    """The sample topic: its podcast settings are complete."""
    return replace(sample_batch().topics[0], **changes)


def story(**changes) -> Story:
    base = Story(
        id="s1", url="https://www.example.org/s1", title="A story", published=WHEN,
        updated=WHEN, teaser="What it is about.", topics=("world",),
        image=Image("https://media.example.org/s1.jpg", 800, 450, caption=CAPTION,
                    credit="A Photographer"),
        audio=(Audio("a1", "https://media.example.org/s1.mp3", "audio/mpeg", 1000, 60),),
    )
    return replace(base, **changes)


def page(*stories: Story) -> StoryPage:
    return StoryPage(tuple(stories), None, None)


def html_text(fragment: str) -> str:
    """What a reader shows for an HTML fragment: its text, markup gone."""
    return lxml.html.fragment_fromstring(fragment, create_parent="div").text_content()


def html_elements(fragment: str) -> list[str]:
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    return [el.tag for el in root.iterdescendants()]


def shown(detail) -> str:
    """What feedparser's consumers show for a text construct (`summary_detail` etc.)."""
    return html_text(detail.value) if detail.type == "text/html" else detail.value


# -- plain text in HTML-carrying fields ------------------------------------------------

RSS_RENDERS = {
    "rss": lambda topic, p: render_rss_feed(topic, p, LINKS),
    "podcast": lambda topic, p: render_podcast_feed(topic, p, LINKS),
}


@pytest.mark.parametrize("fmt", sorted(RSS_RENDERS))
def test_rss_descriptions_hold_the_teaser_as_text_not_markup(fmt):
    topic = podcast_topic(description=HOSTILE_TEXT)
    body = RSS_RENDERS[fmt](topic, page(story(teaser=HOSTILE_TEXT)))
    root = etree.fromstring(body)
    # The XML text of each description is HTML to a reader: it must hold no element,
    # and its text must be the plain text, exactly.
    for path in ("channel/description", "channel/item/description"):
        description = root.findtext(path)
        assert html_elements(description) == [], (path, description)
        assert html_text(description) == HOSTILE_TEXT, path
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert shown(parsed.entries[0].summary_detail) == HOSTILE_TEXT
    assert shown(parsed.feed.subtitle_detail) == HOSTILE_TEXT


def test_podcast_apps_read_the_teaser_as_text():
    body = render_podcast_feed(podcast_topic(description=HOSTILE_TEXT),
                               page(story(teaser=HOSTILE_TEXT)), LINKS)
    podcast = podcastparser.parse("http://storyfeed.test/p.xml", io.BytesIO(body))
    # gPodder's parser hands the description on as it is; gPodder shows it as HTML.
    description = podcast["episodes"][0]["description"]
    assert html_elements(description) == []
    assert html_text(description) == HOSTILE_TEXT


def test_podcast_descriptions_stay_within_apples_bytes_once_escaped():
    long = "<i>&</i>" * 1500  # 12000 bytes of text, 36000 once escaped
    body = render_podcast_feed(podcast_topic(description=long), page(story(teaser=long)), LINKS)
    root = etree.fromstring(body)
    for path in ("channel/description", "channel/item/description"):
        description = root.findtext(path)
        assert len(description.encode("utf-8")) <= 4000, path
        assert html_elements(description) == []
        text = html_text(description)
        assert text.endswith("...") and long.startswith(text[:-3]), path


def test_atom_and_json_keep_text_as_text_and_html_as_html():
    s = story(teaser=HOSTILE_TEXT, body_html="<p>Body <b>text</b></p>")
    atom = etree.fromstring(render_atom_feed(None, page(s), LINKS))
    entry = atom.find("atom:entry", NS)
    summary = entry.find("atom:summary", NS)
    assert summary.get("type", "text") == "text" and summary.text == HOSTILE_TEXT
    content = entry.find("atom:content", NS)
    assert content.get("type") == "html"
    assert HOSTILE_TEXT in html_text(content.text)
    assert "script" not in html_elements(content.text)
    assert html_elements(content.text).count("b") == 1  # the body's, not the teaser's
    item = check_json_feed(render_json_feed(None, page(s), LINKS))["items"][0]
    assert item["summary"] == HOSTILE_TEXT  # JSON Feed's summary is plain text
    assert HOSTILE_TEXT in html_text(item["content_html"])
    assert html_elements(item["content_html"]).count("b") == 1


def test_the_item_html_keeps_hostile_captions_and_credits_in_their_place():
    # The caption goes into an attribute: a quote in it must not end the attribute.
    hostile = HOSTILE_TEXT + " it's \"quoted\""
    s = story(image=Image("https://media.example.org/s1.jpg?a=1&b='2'", 800, 450,
                          caption=hostile, credit=hostile),
              audio=(Audio("a1", "https://media.example.org/s1.mp3", "audio/mpeg", 1000, 60,
                           transcript_url="https://www.example.org/t?a=1&b=\"2\""),))
    rss = etree.fromstring(render_rss_feed(None, page(s), LINKS))
    atom = etree.fromstring(render_atom_feed(None, page(s), LINKS))
    fragments = [
        rss.findtext("channel/item/content:encoded", namespaces=NS),
        atom.find("atom:entry/atom:content", NS).text,
        check_json_feed(render_json_feed(None, page(s), LINKS))["items"][0]["content_html"],
    ]
    for fragment in fragments:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
        (img,) = root.iter("img")
        assert dict(img.attrib) == {"src": "https://media.example.org/s1.jpg?a=1&b='2'",
                                    "alt": hostile, "width": "800", "height": "450"}
        assert f"(Image credit: {hostile})" in root.text_content()
        assert [a.get("href") for a in root.iter("a")] == ['https://www.example.org/t?a=1&b="2"']
        assert "script" not in html_elements(fragment)


# -- the photo caption never stands in for the story -----------------------------------

READERS = {
    "rss": lambda p: render_rss_feed(None, p, LINKS),
    "atom": lambda p: render_atom_feed(None, p, LINKS),
    "podcast": lambda p: render_podcast_feed(podcast_topic(), p, LINKS),
}


def rss2email_text(entry) -> str:
    """The text rss2email mails in text mode: the first text/plain among the entry's
    contents and its summary, else the first HTML one (rss2email's own order)."""
    contents = list(entry.get("content", []))
    if entry.get("summary_detail"):
        contents.append(entry.summary_detail)
    for wanted in ("text/plain", "text/html"):
        for content in contents:
            if content.type == wanted:
                return shown(content)
    return ""


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_feedparser_readers_show_the_teaser(fmt):
    entry = feedparser.parse(READERS[fmt](page(story()))).entries[0]
    assert entry.summary == "What it is about."
    assert "What it is about." in rss2email_text(entry)


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_without_a_teaser_the_caption_does_not_become_the_story(fmt):
    # feedparser issue #53: media:description (the caption) inside media:content is
    # taken for the entry's description or content.
    entry = feedparser.parse(READERS[fmt](page(story(teaser="", body_html="<p>Body.</p>")))).entries[0]
    assert "summary_detail" not in entry or shown(entry.summary_detail) != CAPTION
    assert all(shown(c) != CAPTION for c in entry.get("content", []))
    assert "Body." in rss2email_text(entry)


def test_the_caption_stays_with_the_picture():
    entry = feedparser.parse(render_rss_feed(None, page(story()), LINKS)).entries[0]
    document = lxml.html.fromstring(entry.content[0].value)
    assert document.xpath("//img/@alt") == [CAPTION]
    assert entry.media_credit[0]["content"] == "A Photographer"


# -- OPML for naive importers ----------------------------------------------------------

def test_opml_lists_the_feed_url_last_for_importers_that_take_the_last_url():
    topics = [Topic("world", "World", description="News."), Topic("arts", "Arts")]
    body = render_opml(topics, LINKS).decode("utf-8")
    outlines = etree.fromstring(body.encode()).findall("body/outline")
    for topic, outline in zip(topics, outlines, strict=True):
        assert list(outline.attrib)[-1] == "xmlUrl"
        assert outline.get("htmlUrl") == LINKS.topic(topic.slug)
    # podget: the last url="..." of each outline line is what it subscribes to.
    lines = [line for line in body.splitlines() if "<outline" in line]
    found = [re.findall(r'url="([^"]*)"', line, re.IGNORECASE)[-1] for line in lines]
    assert found == [f"http://storyfeed.test/topics/{t.slug}/rss.xml" for t in topics]


# -- every URL emitted is http(s) --------------------------------------------------------

JAVASCRIPT_URLS = {
    "story": "javascript:alert(document.domain)",
    "image": "/media/javascript:alert(1)//x.jpg",
    "audio": "/media/javascript:alert(2)//x.mp3",
    "audio2": "JaVaScRiPt:alert(3)//x.mp3",
    "audio3": " javascript:alert(4)//x.mp3",
    "transcript": "javascript:alert(5)",
    "topic_image": "/media/javascript:alert(6)//art.jpg",
}
OTHER_SCHEMES = ("data:text/html,<script>alert(7)</script>", "vbscript:msgbox(8)",
                 "file:///etc/passwd", "http:no-host", "https://ok.example/a b.mp3")
SAFE_SCHEME = re.compile(r"^https?://[^\s]+$")
SCHEME_ANYWHERE = re.compile(r"(?<![/\w.-])(?:javascript|vbscript|data|file):")


def hostile_story(**changes) -> Story:
    audio = [Audio(f"a{i}", url, "audio/mpeg", 1000, 60, transcript_url=JAVASCRIPT_URLS["transcript"])
             for i, url in enumerate([JAVASCRIPT_URLS["audio"], JAVASCRIPT_URLS["audio2"],
                                      JAVASCRIPT_URLS["audio3"], *OTHER_SCHEMES])]
    audio.append(Audio("good", "https://media.example.org/good.mp3", "audio/mpeg", 1000, 60,
                       transcript_url="vbscript:msgbox(9)"))
    return story(
        id="evil", url=JAVASCRIPT_URLS["story"], title="Evil",
        body_html='<p><a href="javascript:alert(10)">x</a><img src="javascript:alert(11)"></p>',
        image=Image(JAVASCRIPT_URLS["image"], 1400, 1400, caption="c", credit="r"),
        audio=tuple(audio), **changes,
    )


def urls_in_html(fragment: str) -> list[str]:
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    return [value for el in root.iter() for name, value in el.attrib.items()
            if name in ("href", "src", "srcset", "action", "poster", "cite")]


HTML_ELEMENTS = ("description", "{http://purl.org/rss/1.0/modules/content/}encoded",
                 "{http://www.w3.org/2005/Atom}content")
URL_ELEMENTS = ("link", "url", "docs", "{http://www.w3.org/2005/Atom}logo",
                "{http://www.w3.org/2005/Atom}icon", "{http://www.w3.org/2005/Atom}uri")


def urls_in_xml(body: bytes) -> list[str]:
    urls = []
    for el in etree.fromstring(body).iter():
        for name, value in el.attrib.items():
            if name in ("href", "url", "domain") and el.tag != "category":
                urls.append(value)
        if el.tag in URL_ELEMENTS and el.text:
            urls.append(el.text.strip())
        if el.tag in HTML_ELEMENTS and el.text:
            urls += urls_in_html(el.text)
    return urls


def urls_in_json(body: bytes) -> list[str]:
    urls = []

    def walk(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str):
            if key in ("url", "image", "icon", "favicon", "avatar", "banner_image",
                       "external_url") or key.endswith("_url"):
                urls.append(value)
            if key == "content_html":
                urls.extend(urls_in_html(value))

    walk(json.loads(body))
    return urls


def assert_only_http_urls(body: bytes, fmt: str) -> None:
    text = body.decode("utf-8").lower()
    # As a scheme, that is: a `/media/` path naming one is joined under the media base
    # (serving.links.Links.media) and stays an http(s) URL there.
    assert not SCHEME_ANYWHERE.search(text), (fmt, SCHEME_ANYWHERE.search(text))
    urls = urls_in_json(body) if fmt == "json" else urls_in_xml(body)
    assert urls, fmt
    assert [u for u in urls if not SAFE_SCHEME.match(u)] == [], fmt


@pytest.mark.parametrize("links", [
    LINKS,
    # A media base on another host must not change anything.
    Links.build("https://storyfeed.example/", "https://cdn.example.net/m/"),
], ids=["site-media", "cdn-media"])
def test_no_feed_emits_a_url_that_is_not_http(links):
    evil = hostile_story()
    topic = podcast_topic(image=TopicImage(JAVASCRIPT_URLS["topic_image"], 1400, 1400))
    renders = {
        "rss": render_rss_feed(topic, page(evil), links),
        "atom": render_atom_feed(topic, page(evil), links),
        "json": render_json_feed(topic, page(evil), links),
        "podcast": render_podcast_feed(podcast_topic(), page(evil), links),
    }
    for fmt, body in renders.items():
        assert_only_http_urls(body, fmt)
    # What is safe stays: the one good enclosure, in every format.
    assert "https://media.example.org/good.mp3" in renders["podcast"].decode()
    assert "https://media.example.org/good.mp3" in renders["json"].decode()


def test_a_podcast_whose_artwork_is_not_http_names_the_problem():
    from feeds.podcast import PodcastSettingsIncomplete

    topic = podcast_topic(image=TopicImage("JaVaScRiPt:alert(6)//art.jpg", 1400, 1400))
    with pytest.raises(PodcastSettingsIncomplete, match=r"image\.url"):
        render_podcast_feed(topic, page(story()), LINKS)


def test_stories_written_straight_to_the_store_reach_no_feed_with_a_bad_url(app, client):
    store = app_state(app).store
    podcast = podcast_topic()
    evil_topic = Topic("evil", "Evil", description="Hostile.",
                       image=TopicImage(JAVASCRIPT_URLS["topic_image"], 1400, 1400))
    evil = hostile_story(topics=("evil", podcast.slug))
    store.write([evil, story(id="fine", topics=("evil",))], [evil_topic, podcast])
    paths = {
        "rss": ["/rss.xml", "/topics/evil/rss.xml"],
        "atom": ["/atom.xml", "/topics/evil/atom.xml"],
        "json": ["/feed.json", "/topics/evil/feed.json"],
        "podcast": [f"/topics/{podcast.slug}/podcast.xml"],
    }
    for fmt, urls in paths.items():
        for path in urls:
            response = client.get(path)
            assert response.status_code == 200, path
            assert_only_http_urls(response.data, fmt)
    assert client.get("/topics/evil/podcast.xml").status_code == 404
    opml = client.get("/feeds.opml")
    assert opml.status_code == 200 and b"javascript:" not in opml.data


def test_the_sample_feeds_keep_every_url():
    """The http(s) check drops nothing a valid record holds."""
    batch = sample_batch()
    topic, stories = batch.topics[0], newest_first(batch.stories)
    for render, fmt in ((render_rss_feed, "rss"), (render_podcast_feed, "podcast")):
        parsed = feedparser.parse(render(topic, page(*stories), LINKS))
        assert len(parsed.entries) == len(stories), fmt
        for s, entry in zip(stories, parsed.entries, strict=True):
            assert entry.link == s.url, fmt
            assert [e.href for e in entry.enclosures] == [LINKS.media(s.audio[0].url)]
