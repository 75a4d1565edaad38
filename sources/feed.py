"""The `feed` kind: RSS, Atom and podcast feeds, parsed with feedparser, mapped to records.

feedparser gives the core of each item (title, link, guid, dates, summary,
content:encoded, enclosures, categories). Extension elements it flattens or loses are
read from the same bytes with lxml: it merges `dc:creator` with `itunes:author` (the
show, not the reporter), mixes `media:description` into `content`, and keeps only the
last `podcast:transcript`.

Mapping:
- id: the story id of an NPR story URL (`/YYYY/MM/DD/<id>/...`) in the link or guid,
  else `guid-` and a hash of the guid (or of the link when there is no guid);
- audio: audio enclosures, with `length` (or the `size=` of NPR mp3 URLs),
  `itunes:duration` (or `d=`), and `podcast:transcript` (text/html preferred);
- image: `media:content`, then `media:thumbnail`, then the first `<img>` of
  `content:encoded`, then `itunes:image`; caption from `media:description` or the
  `<img>`'s alt text; credit from `media:credit` or NPR's "(Image credit: ...)";
- bylines: `dc:creator`, else Atom authors, else the name in RSS `<author>`;
- topics: categories as slugs, plus the source's topics.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
from lxml import etree

from stories.files import Batch
from stories.validate import MAX_LIST, guess_audio_type

from .mapping import (
    SAFE_XML,
    batch_from_raw,
    first_image_in_html,
    html_to_text,
    image_credit_in_html,
    parse_duration,
    positive_int,
    slugify,
    with_absolute_urls,
)
from .model import ParseError, Retrieved, Source

ACCEPT = feedparser.http.ACCEPT_HEADER
MAX_TEASER = 1_000

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "media": "http://search.yahoo.com/mrss/",
    "podcast": "https://podcastindex.org/namespace/1.0",
}
ITEM_TAGS = ("item", "{http://purl.org/rss/1.0/}item", f"{{{NS['atom']}}}entry")
NPR_HOSTS = {"npr.org", "www.npr.org"}
NPR_STORY_PATH_RE = re.compile(r"/(?:sections/[^/]+/)?\d{4}/\d{2}/\d{2}/([a-z0-9-]+)(?:/|$)")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp")
# Encoding mix-ups feedparser recovers from; anything else it flags means a broken
# document, and storing part of a broken document would look like stories vanishing.
SURVIVABLE = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def parse_feed(source: Source, document: Retrieved) -> Batch:
    # A file object, never bytes or a string: feedparser would fetch a body that looks
    # like a URL, or open one that looks like a path.
    parsed = feedparser.parse(
        io.BytesIO(document.body),
        response_headers={
            "content-type": document.headers.get("Content-Type", ""),
            "content-location": document.url,
        },
        resolve_relative_uris=True,
        sanitize_html=True,
    )
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), SURVIVABLE):
        raise ParseError(f"not a well-formed feed: {parsed.get('bozo_exception')}")
    if not parsed.get("version"):
        raise ParseError("not an RSS or Atom feed")
    is_atom = parsed.version.startswith("atom")
    extras = item_extras(document.body, len(parsed.entries))
    # feedparser resolves the URLs it reads itself; the ones read with lxml (media:,
    # podcast:transcript, itunes:image) and enclosures are resolved here.
    records = [
        (with_absolute_urls(map_entry(entry, extra, is_atom), document.url), "item")
        for entry, extra in zip(parsed.entries, extras, strict=True)
    ]
    return batch_from_raw(source, records)


# -- what feedparser loses, read with lxml ---------------------------------------


@dataclass
class MediaImage:
    url: str
    width: int | None = None
    height: int | None = None
    credit: str = ""
    caption: str = ""


@dataclass
class ItemExtras:
    creators: list[str] = field(default_factory=list)  # dc:creator
    rss_authors: list[str] = field(default_factory=list)  # RSS <author>
    media_images: list[MediaImage] = field(default_factory=list)  # media:content images
    thumbnails: list[MediaImage] = field(default_factory=list)  # media:thumbnail
    credit: str = ""  # item-level media:credit
    caption: str = ""  # item-level media:description
    transcripts: list[tuple[str, str]] = field(default_factory=list)  # (url, type)
    duration: str = ""  # itunes:duration
    itunes_image: str = ""


def item_extras(body: bytes, count: int) -> list[ItemExtras]:
    """One ItemExtras per feedparser entry, matched by document order."""
    try:
        root = etree.fromstring(body, parser=SAFE_XML)
    except etree.XMLSyntaxError:
        return [ItemExtras() for _ in range(count)]
    items = list(root.iter(*ITEM_TAGS))
    if len(items) != count:
        return [ItemExtras() for _ in range(count)]
    return [_read_extras(item) for item in items]


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    text = "".join(el.itertext()).strip()
    return html_to_text(text) if el.get("type") == "html" else re.sub(r"\s+", " ", text)


def _media_image(el: etree._Element) -> MediaImage | None:
    url = (el.get("url") or "").strip()
    if not url:
        return None
    return MediaImage(
        url=url,
        width=positive_int(el.get("width")),
        height=positive_int(el.get("height")),
        credit=_text(el.find("media:credit", NS)),
        caption=_text(el.find("media:description", NS)),
    )


def _is_image(el: etree._Element) -> bool:
    medium = el.get("medium")
    mime = el.get("type") or ""
    if medium or mime:
        return medium == "image" or mime.startswith("image/")
    return _url_path(el.get("url") or "").lower().endswith(IMAGE_EXTENSIONS)


def _first(item: etree._Element, *paths: str) -> etree._Element | None:
    for path in paths:
        found = item.find(path, NS)
        if found is not None:
            return found
    return None


def _read_extras(item: etree._Element) -> ItemExtras:
    extras = ItemExtras()
    extras.creators = [t for t in (_text(el) for el in item.findall("dc:creator", NS)) if t]
    extras.rss_authors = [t for t in (_text(el) for el in item.findall("author")) if t]
    for el in item.iterfind(".//media:content", NS):
        image = _media_image(el) if _is_image(el) else None
        if image:
            extras.media_images.append(image)
    for el in item.iterfind(".//media:thumbnail", NS):
        image = _media_image(el)
        if image:
            extras.thumbnails.append(image)
    extras.credit = _text(_first(item, "media:credit", "media:group/media:credit"))
    extras.caption = _text(_first(item, "media:description", "media:group/media:description"))
    for el in item.findall("podcast:transcript", NS):
        url = (el.get("url") or "").strip()
        if url:
            extras.transcripts.append((url, (el.get("type") or "").strip().lower()))
    extras.duration = _text(item.find("itunes:duration", NS))
    image = item.find("itunes:image", NS)
    extras.itunes_image = (image.get("href") or "").strip() if image is not None else ""
    return extras


# -- mapping one entry ---------------------------------------------------------


def map_entry(entry: Any, extras: ItemExtras, is_atom: bool) -> dict:
    guid = (entry.get("id") or "").strip()
    link = (entry.get("link") or "").strip()
    if not link and entry.get("guidislink"):
        link = guid
    content_html = _content_html(entry)
    record: dict[str, Any] = {
        "id": story_id(link, guid),
        "url": link,
        "title": _title(entry),
        "teaser": _teaser(entry),
        "published": entry.get("published") or entry.get("updated") or None,
        "bylines": _bylines(entry, extras, is_atom) or None,
        "topics": _topics(entry) or None,
        "image": _image(extras, content_html),
        "audio": _audio(entry, extras) or None,
    }
    if "updated" in entry and entry.get("updated") != record["published"]:
        record["updated"] = entry["updated"]
    if content_html:
        record["body_html"] = content_html
    return {k: v for k, v in record.items() if v is not None}


def story_id(link: str, guid: str) -> str:
    for url in (link, guid):
        try:
            parts = urlsplit(url)
        except ValueError:  # an upstream's broken link must not fail the whole feed
            continue
        if parts.scheme in ("http", "https") and (parts.hostname or "") in NPR_HOSTS:
            found = NPR_STORY_PATH_RE.match(parts.path)
            if found:
                return found.group(1)
    key = guid or link
    if not key:
        return ""
    return "guid-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def _title(entry: Any) -> str:
    title = entry.get("title") or ""
    detail = entry.get("title_detail") or {}
    if detail.get("type") in ("text/html", "application/xhtml+xml"):
        return html_to_text(title)
    return title.strip()


def _teaser(entry: Any) -> str | None:
    text = html_to_text(entry.get("summary") or "")
    if len(text) > MAX_TEASER:
        text = text[:MAX_TEASER].rsplit(" ", 1)[0] + "…"
    return text or None


def _content_html(entry: Any) -> str:
    for content in entry.get("content") or ():
        if content.get("type") in ("text/html", "application/xhtml+xml") and content.get("value"):
            return content["value"]
    return ""


def _bylines(entry: Any, extras: ItemExtras, is_atom: bool) -> list[str]:
    if extras.creators:
        return extras.creators
    if is_atom:
        return [a["name"] for a in entry.get("authors") or () if a.get("name")]
    # RSS <author> is "email (Name)"; the name is the byline.
    names = []
    for text in extras.rss_authors:
        found = re.search(r"\(([^)]+)\)", text)
        names.append(found.group(1).strip() if found else text)
    return [n for n in names if n]


def _topics(entry: Any) -> list[str]:
    slugs = []
    for tag in entry.get("tags") or ():
        slug = slugify(tag.get("term") or tag.get("label") or "")
        if slug and slug not in slugs:
            slugs.append(slug)
    return slugs[:MAX_LIST]


def _image(extras: ItemExtras, content_html: str) -> dict | None:
    in_content = first_image_in_html(content_html)
    credit = extras.credit or image_credit_in_html(content_html)
    caption = extras.caption or (in_content["alt"] if in_content else "")
    chosen = (extras.media_images or extras.thumbnails or [None])[0]
    if chosen is not None:
        image = {
            "url": chosen.url,
            "width": chosen.width,
            "height": chosen.height,
            "caption": chosen.caption or caption,
            "credit": chosen.credit or credit,
        }
    elif in_content is not None:
        image = {
            "url": in_content["src"],
            "caption": in_content["alt"],
            "alt": in_content["alt"],
            "credit": credit,
        }
    elif extras.itunes_image:
        image = {"url": extras.itunes_image}
    else:
        return None
    return {k: v for k, v in image.items() if v}


def _query_number(url: str, key: str) -> int | None:
    try:
        values = parse_qs(urlsplit(url).query).get(key)
    except ValueError:  # an unbalanced IPv6 bracket in an upstream URL
        return None
    return positive_int(values[0]) if values else None


def _url_path(url: str) -> str:
    """The path of an upstream URL, "" when it cannot be split (an unbalanced [ ])."""
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def _audio(entry: Any, extras: ItemExtras) -> list[dict]:
    enclosures = [
        link
        for link in entry.get("links") or ()
        if link.get("rel") == "enclosure" and link.get("href")
    ]
    transcript = ""
    for url, mime in extras.transcripts:
        if mime == "text/html":
            transcript = url
            break
    if not transcript and extras.transcripts:
        transcript = extras.transcripts[0][0]
    audio = []
    for enclosure in enclosures:
        url = enclosure["href"].strip()
        mime = (enclosure.get("type") or "").strip().lower() or guess_audio_type(url)
        if not mime.startswith("audio/"):
            continue
        duration = _query_number(url, "d")
        if not audio:
            duration = parse_duration(extras.duration) or duration
        # Unique within the story and stable while the file stays where it is; the
        # query string is left out because tracking parameters change.
        audio_id = "a" + hashlib.sha256(url.split("?", 1)[0].encode("utf-8")).hexdigest()[:15]
        if any(a["id"] == audio_id for a in audio):
            continue
        item = {
            "id": audio_id,
            "url": url,
            "type": mime,
            "length": positive_int(enclosure.get("length")) or _query_number(url, "size"),
            "duration": duration,
            "transcript_url": transcript if not audio else None,
        }
        audio.append({k: v for k, v in item.items() if v is not None and v != ""})
    return audio
