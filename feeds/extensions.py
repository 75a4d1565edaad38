"""feedgen extensions that close feedgen 1.0.0's gaps, through its own extension mechanism.

feedgen writes the body of every feed; these classes add or replace only what it gets
wrong or lacks (see the README, "Feeds"):

- RSS keeps just the first `atom:link rel="self"`, so hub and paging links vanish:
  `ChannelLinksExtension` writes the others.
- Atom entry links lose `rel`, `type`, `hreflang` and `length` (feedgen issues #135, #143):
  `AtomEntryLinksExtension` writes entry links whole.
- `itunes:explicit` only takes yes/no/clean and `itunes:image` drops URLs that do not
  end in .jpg/.png (query strings): `ItunesExtension`/`ItunesEntryExtension` write
  `true|false` and any URL, and keep the rest of feedgen's podcast extension.
- No `podcast:` namespace (Podcasting 2.0): `PodcastIndexExtension` (channel) and
  `PodcastIndexEntryExtension` (item) write the tags docs/feeds.md lists.
- Media RSS without `media:credit`: `MediaRSSEntryExtension`.

Elements are built with lxml, so every value is escaped by the library.
"""

from __future__ import annotations

from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.ext.podcast import PodcastExtension
from feedgen.ext.podcast_entry import PodcastEntryExtension
from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
MEDIA_NS = "http://search.yahoo.com/mrss/"


def _attributes(**values: object) -> dict[str, str]:
    """lxml attributes from keyword values, leaving out the empty ones."""
    # A loop, not a comprehension (which is a function of its own before Python 3.12):
    # 0.35 µs, not 0.5, for each of several tags an item has.
    attributes = {}
    for key, value in values.items():
        if value is not None and value != "":
            attributes[key] = str(value)
    return attributes


class ChannelLinksExtension(BaseExtension):
    """`atom:link` elements of an RSS channel beyond the one `rel="self"` feedgen writes."""

    def __init__(self) -> None:
        self._links: list[dict[str, str]] = []

    def add(self, href: str, rel: str, type: str | None = None, title: str | None = None) -> None:
        self._links.append(_attributes(href=href, rel=rel, type=type, title=title))

    def extend_ns(self) -> dict[str, str]:
        return {"atom": ATOM_NS}

    def extend_rss(self, rss_feed: etree._Element) -> etree._Element:
        channel = rss_feed[0]
        for link in self._links:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", link)
        return rss_feed


class AtomEntryLinksExtension(BaseEntryExtension):
    """Atom entry links with their `rel`, `type` and `length`.

    Entries get their links only from here (never from feedgen's `FeedEntry.link`, which
    writes `href` alone), so nothing needs undoing.
    """

    def __init__(self) -> None:
        self._links: list[dict[str, str]] = []

    def add(self, href: str, rel: str = "alternate", type: str | None = None,
            length: int | None = None, title: str | None = None,
            hreflang: str | None = None) -> None:
        self._links.append(_attributes(href=href, rel=rel, type=type, hreflang=hreflang,
                                       length=length, title=title))

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        # feedgen builds Atom elements without a namespace under a root that declares
        # Atom as the default one; new elements follow suit.
        for link in self._links:
            etree.SubElement(entry, "link", link)
        return entry


class _ItunesFixes:
    """What feedgen's `itunes:` extensions get wrong, for channel and item alike:
    `itunes:explicit` as `true|false`, and `itunes:image` taking any http(s) URL (query
    strings included)."""

    # Defaults on the class, not set in `__init__`: feedgen makes one of these for every
    # item, and the constructors' chains (here and in the podcast: extension) were 0.5 µs
    # of the 8 an item of a podcast feed costs beyond feedgen's own work.
    _explicit: bool | None = None
    _image: str | None = None

    def itunes_explicit(self, itunes_explicit: bool | None = None) -> bool | None:
        if itunes_explicit is not None:
            if not isinstance(itunes_explicit, bool):
                raise ValueError("itunes:explicit is true or false")
            self._explicit = itunes_explicit
        return self._explicit

    def itunes_image(self, itunes_image: str | None = None) -> str | None:
        if itunes_image is not None:
            self._image = itunes_image
        return self._image

    def _append_fixed_tags(self, element: etree._Element) -> None:
        if self._image:
            etree.SubElement(element, f"{{{ITUNES_NS}}}image", href=self._image)
        if self._explicit is not None:
            etree.SubElement(element, f"{{{ITUNES_NS}}}explicit").text = (
                "true" if self._explicit else "false"
            )


class ItunesExtension(_ItunesFixes, PodcastExtension):
    """feedgen's channel-level `itunes:` tags, fixed (`_ItunesFixes`)."""

    def extend_rss(self, rss_feed: etree._Element) -> etree._Element:
        super().extend_rss(rss_feed)
        self._append_fixed_tags(rss_feed[0])
        return rss_feed


class ItunesEntryExtension(_ItunesFixes, PodcastEntryExtension):
    """feedgen's item-level `itunes:` tags, fixed (`_ItunesFixes`)."""

    def extend_rss(self, entry: etree._Element) -> etree._Element:
        super().extend_rss(entry)
        self._append_fixed_tags(entry)
        return entry


class _PodcastPersons:
    """`podcast:person`, which channel and item alike may carry."""

    # Tuples on the class until a value comes (see `_ItunesFixes`); `+=` then gives the
    # instance its own.
    _persons: tuple[tuple[str, dict[str, str]], ...] = ()

    def person(self, name: str, *, role: str | None = None, group: str | None = None,
               img: str | None = None, href: str | None = None) -> None:
        self._persons += ((name, _attributes(role=role, group=group, img=img, href=href)),)

    def _append_persons(self, element: etree._Element) -> None:
        for name, attributes in self._persons:
            etree.SubElement(element, f"{{{PODCAST_NS}}}person", attributes).text = name


def _podcast_element(parent: etree._Element, tag: str, attributes: dict[str, str],
                     text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{PODCAST_NS}}}{tag}", attributes)
    element.text = text or None
    return element


class PodcastIndexExtension(_PodcastPersons, BaseExtension):
    """Channel tags of the Podcast Index namespace: `podcast:guid`, `podcast:locked`,
    `podcast:medium`, `podcast:license`, `podcast:funding`, `podcast:location`,
    `podcast:person`, `podcast:trailer` and `podcast:block`."""

    def __init__(self) -> None:
        super().__init__()
        self._guid: str | None = None
        self._block = False
        self._locked: tuple[bool, str] | None = None
        self._medium: str | None = None
        self._license: tuple[str, dict[str, str]] | None = None
        self._funding: list[tuple[str, str]] = []
        self._locations: list[tuple[str, dict[str, str]]] = []
        self._trailers: list[tuple[str, dict[str, str]]] = []

    def guid(self, guid: str | None = None) -> str | None:
        if guid is not None:
            self._guid = guid
        return self._guid

    def block(self, block: bool) -> None:
        """`podcast:block` yes: no directory or app may list the feed (a member's)."""
        self._block = block

    def locked(self, locked: bool, owner: str = "") -> None:
        self._locked = (locked, owner)

    def medium(self, medium: str) -> None:
        self._medium = medium

    def license(self, name: str, url: str | None = None) -> None:
        self._license = (name, _attributes(url=url))

    def funding(self, url: str, text: str) -> None:
        self._funding.append((url, text))

    def location(self, name: str, *, geo: str | None = None, osm: str | None = None) -> None:
        self._locations.append((name, _attributes(geo=geo, osm=osm)))

    def trailer(self, title: str, *, url: str, pubdate: str, length: int | None = None,
                type: str | None = None, season: int | None = None) -> None:
        """`pubdate` is RFC 2822, as the namespace asks."""
        self._trailers.append(
            (title, _attributes(url=url, pubdate=pubdate, length=length, type=type, season=season)))

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS}

    def extend_rss(self, rss_feed: etree._Element) -> etree._Element:
        channel = rss_feed[0]
        if self._locked is not None:
            locked, owner = self._locked
            _podcast_element(channel, "locked", _attributes(owner=owner), "yes" if locked else "no")
        if self._guid:
            _podcast_element(channel, "guid", {}, self._guid)
        if self._medium:
            _podcast_element(channel, "medium", {}, self._medium)
        if self._license is not None:
            name, attributes = self._license
            _podcast_element(channel, "license", attributes, name)
        for url, text in self._funding:
            _podcast_element(channel, "funding", {"url": url}, text)
        for name, attributes in self._locations:
            _podcast_element(channel, "location", attributes, name)
        self._append_persons(channel)
        for title, attributes in self._trailers:
            _podcast_element(channel, "trailer", attributes, title)
        if self._block:
            _podcast_element(channel, "block", {}, "yes")
        return rss_feed


class PodcastIndexEntryExtension(_PodcastPersons, BaseEntryExtension):
    """Item tags of the Podcast Index namespace: `podcast:transcript`, `podcast:chapters`,
    `podcast:soundbite`, `podcast:person`, `podcast:season`, `podcast:episode` and
    `podcast:alternateEnclosure` with its `podcast:source`s.

    Numbers that may have fractions (times, bitrates) come as text, already written the
    way the namespace reads them (`feeds.content.decimal_text`).
    """

    # Defaults on the class, as in `_PodcastPersons`: one of these is made for every item.
    _transcripts: tuple[dict[str, str], ...] = ()
    _chapters: dict[str, str] | None = None
    _soundbites: tuple[tuple[str, dict[str, str]], ...] = ()
    _season: int | None = None
    _episode: int | None = None
    _alternates: tuple[tuple[dict[str, str], tuple[str, ...]], ...] = ()

    def transcript(self, url: str, type: str, language: str | None = None,
                   rel: str | None = None) -> None:
        self._transcripts += (_attributes(url=url, type=type, language=language, rel=rel),)

    def chapters(self, url: str, type: str) -> None:
        self._chapters = _attributes(url=url, type=type)

    def soundbite(self, start_time: str, duration: str, title: str = "") -> None:
        self._soundbites += ((title, {"startTime": start_time, "duration": duration}),)

    def season(self, number: int) -> None:
        self._season = number

    def episode(self, number: int) -> None:
        self._episode = number

    def alternate_enclosure(self, type: str, sources: tuple[str, ...], *, length: int | None = None,
                            bitrate: str | None = None, codecs: str | None = None,
                            title: str | None = None, default: bool = False) -> None:
        attributes = _attributes(type=type, length=length, bitrate=bitrate, codecs=codecs,
                                 title=title, default="true" if default else None)
        self._alternates += ((attributes, sources),)

    def extend_rss(self, entry: etree._Element) -> etree._Element:
        for transcript in self._transcripts:
            _podcast_element(entry, "transcript", transcript)
        if self._chapters is not None:
            _podcast_element(entry, "chapters", self._chapters)
        for title, attributes in self._soundbites:
            _podcast_element(entry, "soundbite", attributes, title)
        self._append_persons(entry)
        if self._season is not None:
            _podcast_element(entry, "season", {}, str(self._season))
        if self._episode is not None:
            _podcast_element(entry, "episode", {}, str(self._episode))
        for attributes, sources in self._alternates:
            alternate = _podcast_element(entry, "alternateEnclosure", attributes)
            for uri in sources:
                _podcast_element(alternate, "source", {"uri": uri})
        return entry


class MediaRSSExtension(BaseExtension):
    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}


class MediaRSSEntryExtension(BaseEntryExtension):
    """An item's picture as Media RSS: `media:content` with its credit (`media:credit`),
    and `media:thumbnail`.

    No `media:description`: feedparser (rss2email, feed2exec and other readers built on
    it) takes it for the entry's own description or content (feedparser issue #53), so
    readers showed the photo caption instead of the story. The caption is the picture's
    alt text in the item's HTML.
    """

    def __init__(self) -> None:
        self._image: dict[str, Any] | None = None

    def image(self, url: str, *, type: str | None = None, width: int | None = None,
              height: int | None = None, credit: str = "") -> None:
        self._image = {
            "attributes": _attributes(url=url, medium="image", type=type, width=width, height=height),
            "thumbnail": _attributes(url=url, width=width, height=height),
            "credit": credit,
        }

    def _extend(self, entry: etree._Element) -> etree._Element:
        if self._image is None:
            return entry
        content = etree.SubElement(entry, f"{{{MEDIA_NS}}}content", self._image["attributes"])
        if self._image["credit"]:
            etree.SubElement(content, f"{{{MEDIA_NS}}}credit").text = self._image["credit"]
        etree.SubElement(entry, f"{{{MEDIA_NS}}}thumbnail", self._image["thumbnail"])
        return entry

    def extend_rss(self, entry: etree._Element) -> etree._Element:
        return self._extend(entry)

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        return self._extend(entry)
