"""Feeds as bytes: RSS 2.0, Atom 1.0, JSON Feed 1.1, podcast RSS and OPML.

Renderers take a topic (None for the all-stories feeds), a `StoryPage`, a `Links` and
the `Paging` that asked for the page; they know nothing of HTTP. The same arguments
always give the same bytes: dates come from the stories, never from the clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from email.utils import format_datetime as rfc2822_datetime
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from serving.links import Links
from stories.model import Audio, Person, Story, Topic, format_datetime
from stories.store import StoryPage

from .content import (
    Companion,
    audio_chapters,
    audio_transcripts,
    decimal_text,
    episode_guid,
    feed_enclosures,
    feed_id,
    html_text,
    http_url,
    item_html,
    media_url,
    newest_update,
    part_label,
    story_guid,
    xml_text,
)
from .extensions import (
    AtomEntryLinksExtension,
    ChannelLinksExtension,
    ItunesEntryExtension,
    ItunesExtension,
    MediaRSSEntryExtension,
    MediaRSSExtension,
    PodcastIndexEntryExtension,
    PodcastIndexExtension,
)
from .podcast import PodcastSettingsIncomplete, missing_podcast_settings, podcast_guid
from .urls import ATOM, JSON_FEED, PODCAST, RSS, FeedFormat, PageLinks, Paging, feed_url

SITE_TITLE = "storyfeed: all stories"
SITE_DESCRIPTION = "Every story on storyfeed, newest first."
# Apple Podcasts reads at most 4000 bytes of a channel's or an episode's description.
PODCAST_DESCRIPTION_BYTES = 4000


def _title(topic: Topic | None) -> str:
    if topic is None:
        return SITE_TITLE
    title = xml_text(topic.title)
    return title if title.strip() else Topic.from_slug(topic.slug).title


def _description(topic: Topic | None) -> str:
    if topic is None:
        return SITE_DESCRIPTION
    return xml_text(topic.description.strip()) or _title(topic)


def _home(topic: Topic | None, links: Links) -> str:
    return links.topic(topic.slug) if topic else links.absolute("")


def _author(topic: Topic | None) -> str:
    if topic is None:
        return "storyfeed"
    return xml_text(topic.author or topic.owner_name) or _title(topic)


def _story_title(story: Story) -> str:
    # Validation refuses blank titles; a record made elsewhere may still have one, and
    # Atom entries must have a title.
    title = xml_text(story.title)
    return title if title.strip() else f"Story {story.id}"


def _topic_label(slug: str, titles: Mapping[str, str] | None) -> str:
    title = (titles or {}).get(slug)
    return xml_text(title) if title else Topic.from_slug(slug).title


def _page_links(topic: Topic | None, links: Links, fmt: FeedFormat, page: StoryPage,
                paging: Paging, hub: str | None) -> PageLinks:
    return PageLinks.build(links, fmt, topic.slug if topic else None, paging,
                           page.next_cursor, page.previous_cursor, hub)


def _channel(topic: Topic | None, page: StoryPage, links: Links, fmt: FeedFormat,
             page_links: PageLinks, description: str) -> FeedGenerator:
    """A FeedGenerator with what every RSS and Atom feed says about itself."""
    fg = FeedGenerator()
    fg.id(feed_id(topic.slug if topic else None))
    fg.title(_title(topic))
    fg.description(description)
    fg.author({"name": _author(topic)})
    fg.updated(newest_update(page.stories, page.changed_at))
    if topic is not None:
        fg.language(topic.language)
        if topic.copyright:
            fg.rights(xml_text(topic.copyright))
    # feedgen writes one rel="self" atom:link in RSS and takes the channel <link> from
    # the *last* link added: self first, the page's HTML home last, the rest in between
    # (ChannelLinksExtension writes those for RSS; Atom takes them all from feedgen).
    fg.link(href=page_links.self, rel="self", type=fmt.content_type.split(";")[0])
    others = [(rel, href) for rel, href in page_links.rfc5005()]
    if page_links.hub:
        others.insert(0, ("hub", page_links.hub))
    if fmt is ATOM:
        for rel, href in others:
            fg.link(href=href, rel=rel, type=None if rel == "hub" else "application/atom+xml")
    else:
        fg.register_extension("channel_links", ChannelLinksExtension, atom=False, rss=True)
        for rel, href in others:
            fg.channel_links.add(href, rel, type=None if rel == "hub" else "application/rss+xml")
    fg.link(href=_home(topic, links), rel="alternate", type="text/html")
    return fg


def _categories(story: Story, links: Links, titles: Mapping[str, str] | None) -> list[dict[str, Any]]:
    scheme = links.absolute("topics/")
    return [{"term": slug, "label": _topic_label(slug, titles), "scheme": scheme}
            for slug in story.topics]


def _media_image(fe: FeedEntry, story: Story, links: Links) -> None:
    image = story.image
    url = media_url(links, image.url) if image is not None else ""
    if image is None or not url:
        return
    # The caption stays out of Media RSS (it is the picture's alt text in the item's
    # HTML): see MediaRSSEntryExtension.
    fe.media_rss.image(url, width=image.width, height=image.height,
                       credit=xml_text(image.credit))


def _topic_image(topic: Topic | None, links: Links) -> str:
    """The topic's picture as an absolute http(s) URL; "" when it has none."""
    if topic is None or topic.image is None:
        return ""
    return media_url(links, topic.image.url)


def _story_link(fe: FeedEntry, story: Story) -> None:
    url = http_url(story.url)
    if url:
        fe.link(href=url, rel="alternate")


def _rss_content(fe: FeedEntry, html: str) -> None:
    # CDATA keeps the HTML readable; a body that itself holds "]]>" cannot be CDATA
    # and is escaped instead, which every reader decodes the same way.
    fe.content(html, type=None if "]]>" in html else "CDATA")


def _serialize(fg: FeedGenerator, fmt: FeedFormat) -> bytes:
    serialize = fg.atom_str if fmt is ATOM else fg.rss_str
    body: bytes = serialize(pretty=True, encoding="UTF-8")
    return body


def _companions(story: Story, links: Links) -> list[Companion]:
    """The transcripts and chapters of every audio a feed encloses, titled by part when
    the story has several."""
    enclosures = feed_enclosures(story, links)
    found: list[Companion] = []
    for number, (audio, _url) in enumerate(enclosures, 1):
        label = part_label(number, len(enclosures))
        found.extend(audio_transcripts(audio, links, label))
        chapters = audio_chapters(story, audio, links, label)
        if chapters is not None:
            found.append(chapters)
    return found


def _podcast_transcripts_and_chapters(fe: FeedEntry, story: Story, audio: Audio, links: Links) -> None:
    """`podcast:transcript` (every format; `rel="captions"` for captions files) and
    `podcast:chapters` of the audio an RSS item encloses."""
    for transcript in audio_transcripts(audio, links):
        fe.podcast.transcript(transcript.url, transcript.type, language=transcript.language,
                              rel="captions" if transcript.captions else None)
    chapters = audio_chapters(story, audio, links)
    if chapters is not None:
        fe.podcast.chapters(chapters.url, chapters.type)


def render_rss_feed(topic: Topic | None, page: StoryPage, links: Links,
                    paging: Paging = Paging(), *, hub: str | None = None,
                    topic_titles: Mapping[str, str] | None = None, private: bool = False) -> bytes:
    """RSS 2.0 with content:encoded, dc:creator, Media RSS and one enclosure per item,
    with that audio's transcripts and chapters (`podcast:transcript`, `podcast:chapters`).

    `private` (a member's feed): `itunes:block` and `podcast:block`, so that no directory
    lists it should it reach one."""
    page_links = _page_links(topic, links, RSS, page, paging, hub)
    # Readers take RSS descriptions (channel and item) for HTML; ours are plain text.
    fg = _channel(topic, page, links, RSS, page_links, html_text(_description(topic)))
    fg.load_extension("dc", atom=False, rss=True)
    # RSS has no channel author but managingEditor, an e-mail address: readers
    # (feedparser, so rss2email's From: name) read the topic's author from dc:creator.
    fg.dc.dc_creator(_author(topic))
    fg.register_extension("media_rss", MediaRSSExtension, MediaRSSEntryExtension,
                          atom=False, rss=True)
    # Transcripts and chapters in the namespace podcast apps read them from.
    fg.register_extension("podcast", PodcastIndexExtension, PodcastIndexEntryExtension,
                          atom=False, rss=True)
    if private:
        _block(fg)
    if _topic_image(topic, links):
        fg.image(_topic_image(topic, links), title=_title(topic), link=_home(topic, links))
    for story in page.stories:
        fe = _rss_item(fg, story)
        _rss_content(fe, item_html(story, links))
        for byline in story.bylines:
            fe.dc.dc_creator(xml_text(byline))
        if story.topics:
            fe.category(_categories(story, links, topic_titles))
        _media_image(fe, story, links)
        enclosures = feed_enclosures(story, links)
        if enclosures:  # RSS has room for one enclosure; Atom and JSON Feed list them all
            audio, url = enclosures[0]
            fe.enclosure(url, audio.length, audio.type)
            _podcast_transcripts_and_chapters(fe, story, audio, links)
    return _serialize(fg, RSS)


def render_atom_feed(topic: Topic | None, page: StoryPage, links: Links,
                     paging: Paging = Paging(), *, hub: str | None = None,
                     topic_titles: Mapping[str, str] | None = None) -> bytes:
    """Atom 1.0 (RFC 4287) with permanent ids, HTML content and enclosure links."""
    page_links = _page_links(topic, links, ATOM, page, paging, hub)
    fg = _channel(topic, page, links, ATOM, page_links, _description(topic))
    if _topic_image(topic, links):
        fg.logo(_topic_image(topic, links))
    fg.register_extension("atom_links", BaseExtension, AtomEntryLinksExtension,
                          atom=True, rss=False)
    fg.register_extension("media_rss", MediaRSSExtension, MediaRSSEntryExtension,
                          atom=True, rss=False)
    for story in page.stories:
        fe = fg.add_entry(order="append")
        fe.id(story_guid(story))
        fe.title(_story_title(story))
        fe.published(story.published)
        fe.updated(story.updated)
        names = [xml_text(b) for b in story.bylines]
        if any(names):
            fe.author([{"name": name} for name in names if name])
        if story.teaser:
            fe.summary(xml_text(story.teaser))
        fe.content(item_html(story, links), type="html")
        if story.topics:
            fe.category(_categories(story, links, topic_titles))
        if http_url(story.url):
            fe.atom_links.add(http_url(story.url), "alternate", type="text/html")
        for audio, url in feed_enclosures(story, links):
            fe.atom_links.add(url, "enclosure", type=audio.type, length=audio.length)
        for companion in _companions(story, links):
            fe.atom_links.add(companion.url, "related", type=companion.type,
                              hreflang=companion.language, title=companion.title)
        _media_image(fe, story, links)
    return _serialize(fg, ATOM)


def render_json_feed(topic: Topic | None, page: StoryPage, links: Links,
                     paging: Paging = Paging(), *, hub: str | None = None,
                     topic_titles: Mapping[str, str] | None = None) -> bytes:
    """JSON Feed 1.1, paged with `next_url`."""
    page_links = _page_links(topic, links, JSON_FEED, page, paging, hub)
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": _title(topic),
        "home_page_url": _home(topic, links),
        # The feed's identity is its first page; `next_url` walks the others.
        "feed_url": page_links.canonical,
        "description": _description(topic),
    }
    if topic is not None:
        feed["language"] = topic.language
    if _topic_image(topic, links):
        feed["icon"] = _topic_image(topic, links)
    feed["authors"] = [{"name": _author(topic)}]
    if page_links.hub:
        feed["hubs"] = [{"type": "WebSub", "url": page_links.hub}]
    if page_links.next:
        feed["next_url"] = page_links.next
    feed["items"] = [_json_item(story, links, topic_titles) for story in page.stories]
    return json.dumps(feed, ensure_ascii=False, indent=1).encode("utf-8")


def _json_item(story: Story, links: Links, titles: Mapping[str, str] | None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": story_guid(story)}
    if http_url(story.url):
        item["url"] = http_url(story.url)
    item["title"] = _story_title(story)
    item["content_html"] = item_html(story, links)
    if story.teaser:
        item["summary"] = xml_text(story.teaser)  # plain text in JSON Feed
    if story.image is not None and media_url(links, story.image.url):
        item["image"] = media_url(links, story.image.url)
    item["date_published"] = format_datetime(story.published)
    item["date_modified"] = format_datetime(story.updated)
    names = [xml_text(b) for b in story.bylines]
    if any(names):
        item["authors"] = [{"name": name} for name in names if name]
    if story.topics:
        item["tags"] = [_topic_label(slug, titles) for slug in story.topics]
    attachments = []
    for audio, url in feed_enclosures(story, links):
        attachment = {
            "url": url,
            "mime_type": audio.type,
            "size_in_bytes": audio.length,
        }
        if audio.duration is not None:
            attachment["duration_in_seconds"] = audio.duration
        attachments.append(attachment)
    for companion in _companions(story, links):
        attachments.append({"url": companion.url, "mime_type": companion.type,
                            "title": companion.title})
    if attachments:
        item["attachments"] = attachments
    return item


def _is_episode_artwork(story: Story) -> bool:
    """Apple takes episode artwork only when it meets the channel artwork's rules."""
    image = story.image
    return (image is not None and image.width is not None and image.width == image.height
            and 1400 <= image.width <= 3000)


def render_podcast_feed(topic: Topic, page: StoryPage, links: Links,
                        paging: Paging = Paging(limit=PODCAST.page_size), *, hub: str | None = None,
                        guid: str | None = None, new_feed_url: str | None = None,
                        private: bool = False, notice: Story | None = None) -> bytes:
    """Podcast RSS as Apple Podcasts, PSP-1 and the Podcast Index namespace ask for:
    one item per downloadable audio of the page's stories.

    `guid` is the podcast:guid of a feed that moved here (else that of this feed's URL);
    `new_feed_url` is where a moved feed now lives (`itunes:new-feed-url`); `private`
    blocks it from directories (`render_rss_feed`). `notice` is a story without audio put
    first as an item of its own, with no enclosure: what the feed of a lapsed member says
    (web/members.py), in the podcast feed the app subscribed to.

    Raises `PodcastSettingsIncomplete` when the topic lacks what Apple requires.
    """
    missing = missing_podcast_settings(topic)
    if missing:
        raise PodcastSettingsIncomplete(topic, missing)
    artwork = _topic_image(topic, links)
    if not artwork:
        raise PodcastSettingsIncomplete(topic, ["artwork at an http(s) URL (image.url)"])
    page_links = _page_links(topic, links, PODCAST, page, paging, hub)
    description = html_text(_description(topic), PODCAST_DESCRIPTION_BYTES)
    fg = _channel(topic, page, links, PODCAST, page_links, description)
    fg.register_extension("itunes", ItunesExtension, ItunesEntryExtension, atom=False, rss=True)
    fg.register_extension("podcast", PodcastIndexExtension, PodcastIndexEntryExtension,
                          atom=False, rss=True)
    fg.image(artwork, title=_title(topic), link=_home(topic, links))
    fg.itunes.itunes_author(_author(topic))
    fg.itunes.itunes_owner(name=xml_text(topic.owner_name) or _author(topic),
                           email=xml_text(topic.owner_email))
    category = {"cat": topic.category}
    if topic.subcategory:
        category["sub"] = topic.subcategory
    fg.itunes.itunes_category(category)
    fg.itunes.itunes_image(artwork)
    fg.itunes.itunes_explicit(topic.explicit)
    fg.itunes.itunes_type(topic.type)
    fg.podcast.locked(True, owner=xml_text(topic.owner_email))
    fg.podcast.guid(guid or podcast_guid(page_links.canonical))
    if new_feed_url:
        fg.itunes.itunes_new_feed_url(new_feed_url)
    if private:
        _block(fg)
    _podcast_channel(fg.podcast, topic, links)
    if notice is not None:
        _rss_item(fg, notice, PODCAST_DESCRIPTION_BYTES)
    enclosed: set[str] = set()  # no two items may share an enclosure URL
    for story in page.stories:
        audio = [(a, url) for a, url in feed_enclosures(story, links) if url not in enclosed]
        for number, (clip, url) in enumerate(audio, 1):
            enclosed.add(url)
            part = (number, len(audio))
            _podcast_item(fg.add_entry(order="append"), topic, story, clip, url, links, part)
            if story.episode_type == "trailer":
                fg.podcast.trailer(_part_title(story, part), url=url, length=clip.length,
                                   pubdate=rfc2822_datetime(story.published), type=clip.type,
                                   season=story.season)
    return _serialize(fg, PODCAST)


def _rss_item(fg: FeedGenerator, story: Story, description_bytes: int | None = None) -> FeedEntry:
    """A new last item: the story's title, link, guid, date and teaser."""
    fe = fg.add_entry(order="append")
    fe.title(_story_title(story))
    _story_link(fe, story)
    fe.guid(story_guid(story), permalink=False)
    fe.published(story.published)
    if story.teaser:
        fe.description(html_text(story.teaser, description_bytes))
    return fe


def _block(fg: FeedGenerator) -> None:
    """`itunes:block` (Apple) and `podcast:block` (every other directory) on the channel."""
    if not hasattr(fg, "itunes"):  # the podcast feed has it already
        fg.register_extension("itunes", ItunesExtension, ItunesEntryExtension, atom=False, rss=True)
    fg.itunes.itunes_block(True)
    fg.podcast.block(True)


def _part_title(story: Story, part: tuple[int, int]) -> str:
    number, count = part
    title = _story_title(story)
    return title if count == 1 else f"{title} (part {number} of {count})"


def _podcast_persons(ext: PodcastIndexExtension | PodcastIndexEntryExtension, persons: tuple[Person, ...],
                     links: Links) -> None:
    for person in persons:
        name = xml_text(person.name)
        if name.strip():  # the namespace: "This value cannot be blank"
            ext.person(name, role=xml_text(person.role), group=xml_text(person.group),
                       img=media_url(links, person.img) if person.img else None,
                       href=http_url(person.href))


def _podcast_channel(ext: PodcastIndexExtension, topic: Topic, links: Links) -> None:
    """The topic's Podcasting 2.0 settings: medium, license, funding, location, people."""
    ext.medium(xml_text(topic.medium) or "podcast")
    if topic.license is not None and xml_text(topic.license.name).strip():
        ext.license(xml_text(topic.license.name), http_url(topic.license.url))
    for funding in topic.funding:
        if http_url(funding.url):
            ext.funding(http_url(funding.url), xml_text(funding.text))
    location = topic.location
    if location is not None and xml_text(location.name).strip():
        ext.location(xml_text(location.name), geo=xml_text(location.geo), osm=xml_text(location.osm))
    _podcast_persons(ext, topic.persons, links)


def _podcast_item(fe: FeedEntry, topic: Topic, story: Story, audio: Audio, url: str, links: Links,
                  part: tuple[int, int]) -> None:
    fe.title(_part_title(story, part))
    _story_link(fe, story)
    fe.guid(episode_guid(story, audio), permalink=False)
    fe.published(story.published)
    if story.teaser:
        fe.description(html_text(story.teaser, PODCAST_DESCRIPTION_BYTES))
    _rss_content(fe, item_html(story, links))
    fe.enclosure(url, audio.length, audio.type)
    if audio.duration is not None:
        fe.itunes.itunes_duration(audio.duration)
    fe.itunes.itunes_explicit(topic.explicit)
    fe.itunes.itunes_episode_type(story.episode_type)
    if story.season is not None:
        fe.itunes.itunes_season(story.season)
        fe.podcast.season(story.season)
    if story.episode is not None:
        fe.itunes.itunes_episode(story.episode)
        fe.podcast.episode(story.episode)
    author = ", ".join(filter(None, map(xml_text, story.bylines)))
    if author:
        fe.itunes.itunes_author(author)
    image = story.image
    if image is not None and _is_episode_artwork(story) and media_url(links, image.url):
        fe.itunes.itunes_image(media_url(links, image.url))
    _podcast_transcripts_and_chapters(fe, story, audio, links)
    for soundbite in audio.soundbites:
        fe.podcast.soundbite(decimal_text(soundbite.start), decimal_text(soundbite.duration),
                             xml_text(soundbite.title))
    # A story's people replace the topic's (the channel's) in apps.
    if story.persons:  # most stories have none, nor alternates: not calling is 0.1 µs an item
        _podcast_persons(fe.podcast, story.persons, links)
    if audio.alternates:
        _alternate_enclosures(fe, audio, url, links)


def _alternate_enclosures(fe: FeedEntry, audio: Audio, url: str, links: Links) -> None:
    """The audio in other formats as `podcast:alternateEnclosure`, after the enclosure
    itself marked `default="true"`, as the namespace's own example lists it."""
    alternates = [(a, media_url(links, a.url)) for a in audio.alternates]
    alternates = [(a, source) for a, source in alternates if source and source != url]
    if not alternates:
        return
    fe.podcast.alternate_enclosure(audio.type, (url,), length=audio.length, default=True)
    for alternate, source in alternates:
        fe.podcast.alternate_enclosure(
            xml_text(alternate.type), (source,), length=alternate.length,
            bitrate=decimal_text(alternate.bitrate) if alternate.bitrate else None,
            codecs=xml_text(alternate.codecs), title=xml_text(alternate.title))


def render_opml(topics: Iterable[Topic], links: Links, title: str = "storyfeed topics") -> bytes:
    """OPML 2.0 with every topic's RSS feed, for importing into a feed reader at once.

    One outline per topic: the Atom and JSON feeds carry the same stories, and a reader
    importing all of them would show each story several times.
    """
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(opml, "body")
    for topic in topics:
        attributes = {
            "type": "rss",
            "text": _title(topic),
            "title": _title(topic),
            "htmlUrl": links.topic(topic.slug),
            "language": topic.language,
        }
        if topic.description.strip():
            attributes["description"] = _description(topic)
        # Last: naive importers (podget) take the last `url=` attribute of an outline,
        # and lxml writes attributes in the order they were added.
        attributes["xmlUrl"] = feed_url(links, RSS, topic.slug)
        etree.SubElement(body, "outline", attributes)
    return etree.tostring(opml, pretty_print=True, xml_declaration=True, encoding="UTF-8")
