"""Podcasting 2.0 in the feeds: every `podcast:` tag checked against the namespace's
documented rules (Podcastindex-org/podcast-namespace, docs/tags/*.md), the values traced
back to the records, podcastparser and feedparser reading what they support, and the
transcripts and chapters in RSS, Atom (still RELAX NG valid) and JSON Feed."""

from __future__ import annotations

import copy
import email.utils
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

import feedparser
import podcastparser
import pytest
from lxml import etree

from feeds import render_atom_feed, render_json_feed, render_podcast_feed, render_rss_feed
from serving.links import Links
from stories.model import Funding, License, Location, Person
from stories.person_taxonomy import GROUPS, ROLES
from stories.store import StoryPage
from stories.validate import parse_story, parse_topic

from .conftest import story_record
from .feeds_support import NS, SAMPLE_SLUG, TOPIC_FEEDS, check_atom, check_json_feed, newest_first, sample_batch

LINKS = Links.build("http://storyfeed.test/")
PODCAST = NS["podcast"]
SAMPLE_STORY, SAMPLE_AUDIO = "1169464713", "1169825816"
CHAPTERS_URL = f"http://storyfeed.test/stories/{SAMPLE_STORY}/audio/{SAMPLE_AUDIO}/chapters.json"


# -- the namespace's rules, as a table --------------------------------------------------

def _decimal(value: str | None) -> bool:
    try:
        return value is not None and "e" not in value.lower() and Decimal(value).is_finite()
    except InvalidOperation:
        return False


def _positive_integer(value: str | None) -> bool:
    return value is not None and value.isdigit() and int(value) > 0


def _http(value: str | None) -> bool:
    return value is not None and re.fullmatch(r"https?://[^\s]+", value) is not None


def _mime(value: str | None) -> bool:
    return value is not None and re.fullmatch(r"[a-z]+/[a-z0-9.+-]+", value) is not None


def _text(limit: int, blank: bool = False):
    return lambda value: (value or "") == (value or "").strip() and len(value or "") <= limit \
        and (blank or bool(value))


def _rfc2822(value: str | None) -> bool:
    return value is not None and email.utils.parsedate_to_datetime(value).tzinfo is not None


BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$|^x(-[A-Za-z0-9]{1,8})+$")
MEDIUMS = {"podcast", "music", "video", "film", "audiobook", "newsletter", "blog", "publisher", "course"}


def _role(value):
    return value is None or value.strip().lower() in ROLES


def _group(value):
    return value is None or value.strip().lower() in GROUPS


@dataclass(frozen=True)
class Rule:
    """One tag of the namespace: where it may appear, whether once per parent, its
    attributes (required and optional, each with its format), its text, its children."""

    parents: set[str]
    single: bool
    required: dict[str, Callable]
    optional: dict[str, Callable] = field(default_factory=dict)
    text: Callable | None = None
    children: tuple[str, ...] = ()


# tag: Rule(parents, single per parent, required attributes, optional attributes, text).
RULES = {
    # docs/tags/transcript.md
    "transcript": Rule({"item"}, False, {"url": _http, "type": _mime},
                       {"language": BCP47.match, "rel": lambda v: v == "captions"},
                       text=lambda v: v is None),
    # docs/tags/chapters.md
    "chapters": Rule({"item"}, True, {"url": _http, "type": lambda v: v == "application/json+chapters"},
                     text=lambda v: v is None),
    # docs/tags/soundbite.md: startTime and duration are decimals; the title may be blank.
    "soundbite": Rule({"item"}, False, {"startTime": _decimal, "duration": _decimal},
                      text=_text(128, blank=True)),
    # docs/tags/person.md: role and group from the taxonomy (case-insensitive).
    "person": Rule({"channel", "item"}, False, {},
                   {"role": _role, "group": _group, "img": _http, "href": _http}, text=_text(128)),
    # docs/tags/season.md, episode.md
    "season": Rule({"item"}, True, {}, {"name": _text(128)}, text=_positive_integer),
    "episode": Rule({"item"}, True, {}, {"display": _text(32)}, text=_decimal),
    # docs/tags/trailer.md: pubdate is RFC 2822.
    "trailer": Rule({"channel"}, False, {"url": _http, "pubdate": _rfc2822},
                    {"length": _positive_integer, "type": _mime, "season": _positive_integer},
                    text=_text(128)),
    # docs/tags/funding.md, license.md, location.md, medium.md
    "funding": Rule({"channel", "item"}, False, {"url": _http}, text=_text(128, blank=True)),
    "license": Rule({"channel", "item"}, True, {}, {"url": _http}, text=_text(128)),
    "location": Rule({"channel", "item"}, False, {},
                     {"geo": lambda v: re.fullmatch(r"geo:-?[\d.]+,-?[\d.]+(,-?[\d.]+)?(;[\w-]+=[^;]+)*", v),
                      "osm": lambda v: re.fullmatch(r"[NWR]\d+(#\d+)?", v),
                      "rel": lambda v: v in ("subject", "creator")},
                     text=_text(128)),
    "medium": Rule({"channel"}, True, {}, text=lambda v: v in MEDIUMS or v[:-1] in MEDIUMS and v.endswith("L")),
    # docs/tags/alternate-enclosure.md and source.md: at least one source each.
    "alternateEnclosure": Rule({"item"}, False, {"type": _mime},
                               {"length": _positive_integer, "bitrate": _decimal, "height": _positive_integer,
                                "lang": BCP47.match, "title": _text(32), "rel": _text(32),
                                "codecs": lambda v: bool(v.strip()), "default": lambda v: v in ("true", "false")},
                               children=("source",)),
    "source": Rule({"alternateEnclosure"}, False, {"uri": _http}, {"contentType": _mime},
                   text=lambda v: v is None),
    # Channel tags that were there before Podcasting 2.0 (docs/tags/guid.md, locked.md).
    "guid": Rule({"channel"}, True, {}, text=lambda v: re.fullmatch(r"[0-9a-f-]{36}", v)),
    "locked": Rule({"channel"}, True, {"owner": lambda v: "@" in v}, text=lambda v: v in ("yes", "no")),
}


def check_podcast_namespace(body: bytes) -> dict[str, int]:
    """Raise AssertionError at the first tag that breaks RULES; the count of each tag."""
    root = etree.fromstring(body)
    counts: dict[str, int] = {}
    for element in root.iter(f"{{{PODCAST}}}*"):
        tag = etree.QName(element).localname
        assert tag in RULES, f"podcast:{tag} is not a tag the namespace documents"
        rule = RULES[tag]
        where = etree.tostring(element).decode()[:300]
        parent = etree.QName(element.getparent()).localname
        assert parent in rule.parents, f"podcast:{tag} under <{parent}>: {where}"
        if rule.single:
            siblings = element.getparent().findall(f"{{{PODCAST}}}{tag}")
            assert len(siblings) == 1, f"podcast:{tag} more than once under one <{parent}>"
        for name, valid in rule.required.items():
            assert valid(element.get(name)), f"podcast:{tag} {name}={element.get(name)!r}: {where}"
        for name, value in element.attrib.items():
            assert name in rule.required or name in rule.optional, f"podcast:{tag} has no {name}: {where}"
            if name in rule.optional:
                assert rule.optional[name](value), f"podcast:{tag} {name}={value!r}: {where}"
        if rule.text is not None:
            assert rule.text(element.text), f"podcast:{tag} text {element.text!r}: {where}"
        for child in rule.children:
            assert element.findall(f"{{{PODCAST}}}{child}"), f"podcast:{tag} without podcast:{child}"
        counts[tag] = counts.get(tag, 0) + 1
    return counts


# -- records: the sample, and a story and topic with everything -------------------------

def sample():
    batch = sample_batch()
    return batch.topics[0], newest_first(batch.stories)


FULL_AUDIO = {
    "id": "2001", "url": "https://media.example.org/2001.mp3", "length": 123456, "duration": 61,
    "transcripts": [
        {"url": "/media/world/2001.vtt", "type": "text/vtt", "language": "en-US", "captions": True},
        {"url": "https://media.example.org/2001.srt", "type": "application/x-subrip", "captions": True},
        {"url": "https://media.example.org/2001.es.json", "type": "application/json", "language": "es"},
        {"url": "https://www.example.org/transcripts/1001", "type": "text/html"},
    ],
    "chapters": {"version": "1.2.0", "chapters": [
        {"startTime": 0, "title": "Intro"},
        {"startTime": 12.5, "title": "The picture", "img": "/media/world/1001.jpg", "endTime": 40.25},
        {"startTime": 41, "toc": False},
    ]},
    "soundbites": [{"start": 12.5, "duration": 27.75, "title": "Why it matters"},
                   {"start": 0, "duration": 0.001}],
    "alternates": [
        {"url": "/media/world/2001.opus", "type": "audio/ogg", "length": 80000, "bitrate": 20480.25,
         "codecs": "opus", "title": "Opus (smaller)"},
        {"url": "https://media.example.org/2001.m4a", "type": "audio/mp4", "length": 900000,
         "bitrate": 118103, "codecs": "mp4a.40.2"},
    ],
}
FULL_TOPIC = {
    "slug": "world", "title": "World", "description": "News.", "owner_email": "pod@example.org",
    "category": "News", "image": {"url": "https://media.example.org/art.jpg", "width": 1400, "height": 1400},
    "medium": "podcast",
    "license": {"name": "CC-BY-4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
    "funding": [{"url": "https://www.example.org/donate", "text": "Support us"},
                {"url": "https://www.example.org/members", "text": "Become a member"}],
    "location": {"name": "Eiffel Tower, Paris", "geo": "geo:48.858093,2.294694;u=350", "osm": "W5013364"},
    "persons": [{"name": "Hal Host", "role": "Host"}, {"name": "Pat Producer", "role": "producer"}],
}


def full_story(**overrides):
    fields = {"audio": [copy.deepcopy(FULL_AUDIO)], "season": 2, "episode": 14, "persons": [
        {"name": "Ann Reporter", "role": "reporter", "img": "/media/world/ann.jpg",
         "href": "https://www.example.org/people/ann"},
        {"name": "Ed Itor", "role": "Editor", "group": "writing"},
    ]}
    return parse_story(story_record(**{**fields, **overrides}))[0]


def trailer_story(**overrides):
    audio = [{"id": "t1", "url": "https://media.example.org/t1.mp3", "length": 999}]
    return full_story(**{"id": "1002", "episode_type": "trailer", "audio": audio, **overrides})


def full_topic():
    return parse_topic(copy.deepcopy(FULL_TOPIC))[0]


def podcast_of(stories, topic=None) -> bytes:
    return render_podcast_feed(topic or full_topic(), StoryPage(tuple(stories), None, None), LINKS)


# -- every tag by the rules ----------------------------------------------------------------

def test_the_sample_podcast_follows_the_namespace_rules(sample_client):
    counts = check_podcast_namespace(sample_client.get(TOPIC_FEEDS["podcast"]).data)
    # One each per channel; per item (7): two transcripts, chapters, a soundbite, two
    # persons, an episode number, the MP3 and its Opus alternate; four NPR transcript pages.
    assert counts == {
        "locked": 1, "guid": 1, "medium": 1, "license": 1, "funding": 1, "location": 1,
        "person": 1 + 7 * 2, "transcript": 7 * 2 + 4, "chapters": 7, "soundbite": 7,
        "episode": 7, "alternateEnclosure": 7 * 2, "source": 7 * 2,
    }


def test_a_story_and_topic_with_everything_follow_the_namespace_rules():
    trailer = trailer_story(episode=None)
    counts = check_podcast_namespace(podcast_of([full_story(), trailer]))
    assert counts == {
        "locked": 1, "guid": 1, "medium": 1, "license": 1, "funding": 2, "location": 1,
        "person": 2 + 2 * 2, "transcript": 4, "chapters": 1, "soundbite": 2, "season": 2,
        "episode": 1, "alternateEnclosure": 3, "source": 3, "trailer": 1,
    }


def test_the_rules_catch_what_breaks_them():
    """The checker itself: each kind of break is found."""
    good = podcast_of([full_story()])
    broken = [
        (b'startTime="12.5"', b'startTime="1e1"'),
        (b"type=\"application/json+chapters\"", b'type="application/json"'),
        (b"<podcast:medium>podcast<", b"<podcast:medium>radio<"),
        (b'role="Reporter"', b'role="Anchor"'),
        (b'rel="captions"', b'rel="subtitles"'),
        (b"<podcast:season>2<", b"<podcast:season>two<"),
    ]
    for old, new in broken:
        assert old in good, old
        with pytest.raises(AssertionError):
            check_podcast_namespace(good.replace(old, new, 1))


# -- every tag from its record --------------------------------------------------------------

def _item(body: bytes, index: int = 0):
    return etree.fromstring(body).findall("channel/item")[index]


def _all(element, path: str) -> list[dict]:
    return [dict(e.attrib, text=e.text) for e in element.findall(path, NS)]


def test_channel_tags_come_from_the_topic():
    channel = etree.fromstring(podcast_of([full_story()])).find("channel")
    assert channel.findtext("podcast:medium", namespaces=NS) == "podcast"
    assert _all(channel, "podcast:license") == [
        {"url": "https://creativecommons.org/licenses/by/4.0/", "text": "CC-BY-4.0"}]
    assert _all(channel, "podcast:funding") == [
        {"url": "https://www.example.org/donate", "text": "Support us"},
        {"url": "https://www.example.org/members", "text": "Become a member"}]
    assert _all(channel, "podcast:location") == [
        {"geo": "geo:48.858093,2.294694;u=350", "osm": "W5013364", "text": "Eiffel Tower, Paris"}]
    assert _all(channel, "podcast:person") == [
        {"role": "Host", "group": "Cast", "text": "Hal Host"},
        {"role": "Producer", "group": "Creative Direction", "text": "Pat Producer"}]


def test_item_tags_come_from_the_story_and_its_audio():
    item = _item(podcast_of([full_story()]))
    assert _all(item, "podcast:transcript") == [
        {"url": "http://storyfeed.test/media/world/2001.vtt", "type": "text/vtt", "language": "en-US",
         "rel": "captions", "text": None},
        {"url": "https://media.example.org/2001.srt", "type": "application/x-subrip", "rel": "captions",
         "text": None},
        {"url": "https://media.example.org/2001.es.json", "type": "application/json", "language": "es",
         "text": None},
        {"url": "https://www.example.org/transcripts/1001", "type": "text/html", "text": None},
    ]
    assert _all(item, "podcast:chapters") == [{
        "url": "http://storyfeed.test/stories/1001/audio/2001/chapters.json",
        "type": "application/json+chapters", "text": None}]
    assert _all(item, "podcast:soundbite") == [
        {"startTime": "12.5", "duration": "27.75", "text": "Why it matters"},
        {"startTime": "0", "duration": "0.001", "text": None}]
    # The story's people replace the topic's: the channel's host is not repeated.
    assert _all(item, "podcast:person") == [
        {"role": "Reporter", "group": "Cast", "img": "http://storyfeed.test/media/world/ann.jpg",
         "href": "https://www.example.org/people/ann", "text": "Ann Reporter"},
        {"role": "Editor", "group": "Writing", "text": "Ed Itor"}]
    assert item.findtext("podcast:season", namespaces=NS) == "2"
    assert item.findtext("itunes:season", namespaces=NS) == "2"
    assert item.findtext("podcast:episode", namespaces=NS) == "14"
    assert item.findtext("itunes:episode", namespaces=NS) == "14"
    assert item.findtext("itunes:episodeType", namespaces=NS) == "full"


def test_alternates_follow_the_enclosure_marked_default():
    item = _item(podcast_of([full_story()]))
    enclosure = item.find("enclosure")
    alternates = item.findall("podcast:alternateEnclosure", NS)
    found = [(dict(a.attrib), [s.get("uri") for s in a.findall("podcast:source", NS)]) for a in alternates]
    assert found == [
        ({"type": "audio/mpeg", "length": "123456", "default": "true"}, [enclosure.get("url")]),
        ({"type": "audio/ogg", "length": "80000", "bitrate": "20480.25", "codecs": "opus",
          "title": "Opus (smaller)"}, ["http://storyfeed.test/media/world/2001.opus"]),
        ({"type": "audio/mp4", "length": "900000", "bitrate": "118103", "codecs": "mp4a.40.2"},
         ["https://media.example.org/2001.m4a"]),
    ]
    plain = parse_story(story_record())[0]
    assert _item(podcast_of([plain])).find("podcast:alternateEnclosure", NS) is None


def test_a_trailer_is_a_channel_trailer_and_an_episode_of_type_trailer():
    trailer = trailer_story(season=3)
    root = etree.fromstring(podcast_of([trailer]))
    assert _all(root.find("channel"), "podcast:trailer") == [{
        "url": "https://media.example.org/t1.mp3", "pubdate": "Tue, 02 Jan 2024 15:00:00 +0000",
        "length": "999", "type": "audio/mpeg", "season": "3", "text": "A story"}]
    assert root.findtext("channel/item/itunes:episodeType", namespaces=NS) == "trailer"
    bonus = full_story(id="1003", episode_type="bonus")
    root = etree.fromstring(podcast_of([bonus]))
    assert root.find("channel/podcast:trailer", NS) is None
    assert root.findtext("channel/item/itunes:episodeType", namespaces=NS) == "bonus"


def test_the_sample_chapters_file_is_served_with_its_type(sample_client):
    item = _item(sample_client.get(TOPIC_FEEDS["podcast"]).data)
    chapters = item.find("podcast:chapters", NS)
    assert chapters.get("url") == CHAPTERS_URL
    response = sample_client.get(CHAPTERS_URL)
    assert response.status_code == 200 and response.content_type == "application/json+chapters"
    _, stories = sample()
    record = stories[0].audio[0].chapters
    served = json.loads(response.data)["chapters"]
    assert [c["startTime"] for c in served] == [c.start_time for c in record.chapters]


# -- whatever a record holds ---------------------------------------------------------------

def test_urls_that_are_not_http_never_reach_the_podcast_tags():
    """Records made before validation (or elsewhere) still emit only http(s) URLs."""
    script = "javascript:alert(1)"
    story = full_story()
    audio = story.audio[0]
    audio = replace(
        audio,
        transcripts=(replace(audio.transcripts[0], url="/media/javascript:x//y"),
                     replace(audio.transcripts[1], url=script)),
        chapters=replace(audio.chapters, url=script),
        alternates=(replace(audio.alternates[0], url=script),),
    )
    story = replace(story, audio=(audio,), persons=(Person("X \x00Y", img=script, href=script),))
    topic = replace(full_topic(), funding=(Funding(script, "Give"),), license=License("mine", script),
                    location=Location("Here\x0b", geo="geo:1,2"))
    body = podcast_of([story], topic)
    urls = [v for e in etree.fromstring(body).iter() for a, v in e.attrib.items()
            if a in ("url", "href", "img", "uri")]
    assert urls and all(_http(url) for url in urls), urls
    item = _item(body)
    # "/media/javascript:x//y" is a file name under the media base, as any other.
    assert _all(item, "podcast:transcript") == [{
        "url": "http://storyfeed.test/media/javascript:x//y", "type": "text/vtt", "language": "en-US",
        "rel": "captions", "text": None}]
    assert item.find("podcast:chapters", NS) is None
    assert item.find("podcast:alternateEnclosure", NS) is None
    assert _all(item, "podcast:person") == [{"role": "Host", "group": "Cast", "text": "X Y"}]
    channel = etree.fromstring(body).find("channel")
    assert channel.find("podcast:funding", NS) is None
    assert _all(channel, "podcast:license") == [{"text": "mine"}]
    assert channel.findtext("podcast:location", namespaces=NS) == "Here"
    check_podcast_namespace(body)
    assert feedparser.parse(body).bozo == 0


# -- what podcast apps' and readers' parsers read ------------------------------------------

# podcastparser 0.6.11 (gPodder's) maps the `podcast:` prefix only for the namespace's
# old GitHub URL, not for https://podcastindex.org/namespace/1.0 that the namespace
# documents and these feeds declare: of what is new here it reads the iTunes numbering.
def test_podcastparser_reads_numbers_seasons_and_episode_types(sample_client):
    _, stories = sample()
    url = LINKS.absolute(TOPIC_FEEDS["podcast"])
    podcast = podcastparser.parse(url, io.BytesIO(sample_client.get(TOPIC_FEEDS["podcast"]).data))
    assert [(e["number"], e["type"]) for e in podcast["episodes"]] == [(s.episode, "full") for s in stories]
    podcast = podcastparser.parse("http://storyfeed.test/x", io.BytesIO(podcast_of([full_story(), trailer_story()])))
    assert [(e["season"], e.get("number"), e["type"]) for e in podcast["episodes"]] == [
        (2, 14, "full"), (2, 14, "trailer")]


def test_feedparser_reads_the_podcast_tags_it_keeps(sample_client):
    parsed = feedparser.parse(sample_client.get(TOPIC_FEEDS["podcast"]).data)
    assert parsed.bozo == 0
    entry = parsed.entries[0]
    # feedparser keeps the attributes of the last of each unknown tag.
    assert entry.podcast_chapters == {"url": CHAPTERS_URL, "type": "application/json+chapters"}
    assert entry.podcast_transcript["type"] == "application/json"
    assert entry.itunes_episode == "7"
    assert entry.itunes_episodetype == "full"
    assert parsed.feed.podcast_medium == "podcast"


# -- transcripts and chapters in RSS, Atom and JSON Feed -----------------------------------

def test_rss_items_carry_the_transcripts_and_chapters_of_their_enclosure(sample_client):
    body = sample_client.get(TOPIC_FEEDS["rss"]).data
    check_podcast_namespace(body)
    _, stories = sample()
    root = etree.fromstring(body)
    for story, item in zip(stories, root.findall("channel/item"), strict=True):
        audio = story.audio[0]
        found = [(t.get("url"), t.get("type"), t.get("rel")) for t in item.findall("podcast:transcript", NS)]
        expected = [(LINKS.media(t.url), t.type, "captions" if t.captions else None) for t in audio.transcripts]
        expected += [(audio.transcript_url, "text/html", None)] if audio.transcript_url else []
        assert found == expected
        assert item.find("podcast:chapters", NS).get("url").endswith(f"/{story.id}/audio/{audio.id}/chapters.json")
    entry = feedparser.parse(body).entries[0]
    assert entry.podcast_chapters == {"url": CHAPTERS_URL, "type": "application/json+chapters"}


def test_atom_entries_link_transcripts_and_chapters_with_their_types(sample_client):
    body = sample_client.get(TOPIC_FEEDS["atom"]).data
    check_atom(body)
    entry = feedparser.parse(body).entries[0]
    related = [(link.href, link.type, link.get("hreflang"), link.title)
               for link in entry.links if link.rel == "related"]
    assert related == [
        (f"http://storyfeed.test/media/{SAMPLE_SLUG}/{SAMPLE_AUDIO}.vtt", "text/vtt", "en-US", "Transcript (en-US)"),
        (f"http://storyfeed.test/media/{SAMPLE_SLUG}/{SAMPLE_AUDIO}.json", "application/json", "en-US",
         "Transcript (en-US)"),
        (CHAPTERS_URL, "application/json+chapters", None, "Chapters"),
    ]


def test_atom_with_several_audio_titles_each_part_and_stays_valid():
    story = full_story()
    second = replace(story.audio[0], id="2002", url="https://media.example.org/2002.mp3",
                     transcripts=story.audio[0].transcripts[:1], chapters=None)
    body = render_atom_feed(None, StoryPage((replace(story, audio=(story.audio[0], second)),), None, None),
                            LINKS)
    check_atom(body)
    titles = [link.get("title") for link in etree.fromstring(body).findall("atom:entry/atom:link[@rel='related']",
                                                                           NS)]
    assert titles == ["Transcript (en-US) (part 1 of 2)", "Transcript (part 1 of 2)",
                      "Transcript (es) (part 1 of 2)", "Transcript (part 1 of 2)", "Chapters (part 1 of 2)",
                      "Transcript (en-US) (part 2 of 2)"]


def test_json_feed_attaches_transcripts_and_chapters_with_their_types(sample_client):
    feed = check_json_feed(sample_client.get(TOPIC_FEEDS["json"]).data)
    attachments = feed["items"][0]["attachments"]
    assert [(a["mime_type"], a.get("title")) for a in attachments] == [
        ("audio/mpeg", None),
        # One title for one text in two formats: alternates, as JSON Feed reads titles.
        ("text/vtt", "Transcript (en-US)"),
        ("application/json", "Transcript (en-US)"),
        ("application/json+chapters", "Chapters"),
    ]
    assert attachments[3]["url"] == CHAPTERS_URL


def test_a_story_without_any_of_it_gets_none_of_it():
    plain = parse_story(story_record())[0]
    page = StoryPage((plain,), None, None)
    assert b"podcast:" not in render_rss_feed(None, page, LINKS).replace(b"xmlns:podcast", b"")
    assert b'rel="related"' not in render_atom_feed(None, page, LINKS)
    assert len(json.loads(render_json_feed(None, page, LINKS))["items"][0]["attachments"]) == 1
